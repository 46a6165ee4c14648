-- govwatch on PostgreSQL, version 4: the processes in a pass now (SQLite's 0017_passes, same
-- columns), so that a pass's work is shared out between nodes; `until` on the server's clock,
-- as leases are.
CREATE TABLE passes (
    holder text PRIMARY KEY,
    origins bigint NOT NULL,
    until  text NOT NULL
);
