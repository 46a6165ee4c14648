-- govwatch schema, version 16: the nodes that share this database (issue 17), one row per node
-- name (`[daemon] node`), with what its config watches, so that `config check` and `run` can say
-- which watches two nodes' configs disagree on, and so that no node settles the events of a watch
-- another live node's config still has (src/store/nodes.rs).
CREATE TABLE nodes (
    -- `[daemon] node`.
    name     TEXT PRIMARY KEY,
    -- The process that recorded it last (`node:pid:start:since`, as on claims).
    holder   TEXT NOT NULL,
    -- JSON: watch name -> the settings of it that matter to what is stored and who is told.
    watches  TEXT NOT NULL,
    -- The node's last heartbeat: it is live while this is recent.
    seen_at  TEXT NOT NULL
);
