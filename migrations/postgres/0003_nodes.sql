-- govwatch on PostgreSQL, version 3: the nodes that share this database (SQLite's 0016_nodes,
-- same columns): one row per node name with what its config watches and its last heartbeat,
-- which is stamped on the server's clock (src/store/pg/nodes.rs says why).
CREATE TABLE nodes (
    name     text PRIMARY KEY,
    holder   text NOT NULL,
    watches  text NOT NULL,
    seen_at  text NOT NULL
);
