-- govwatch schema, migration 0017: the processes in a pass now (issue 17), so that the work of a
-- pass is shared out between the nodes on one database. A process writes its row when its pass
-- starts, renews it with its claims, and deletes it when the pass ends; a node holds at most its
-- share of the due origins (src/pipeline/feed.rs), so that one started first does not keep all
-- of them from one started a moment later.
CREATE TABLE passes (
    -- The process (`node:pid:start:since`, as on claims).
    holder TEXT PRIMARY KEY,
    -- How many origins had due work at the start of its pass.
    origins INTEGER NOT NULL,
    -- Runs out like a claim: a process killed mid-pass stops counting by then.
    until  TEXT NOT NULL
);
