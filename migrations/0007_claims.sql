-- govwatch schema, version 7: several processes on one database (the daemon, `check` from cron,
-- an operator's command). Work is claimed in the database before it starts, so each document is
-- checked by one process at a time, each batch of mail is sent by one process, and each origin
-- is talked to by one process at a time. A claim is a lease: a process that dies lets go of its
-- claims when they run out, and a live one renews them while it works.

ALTER TABLE documents ADD COLUMN claimed_by TEXT;
ALTER TABLE documents ADD COLUMN claimed_until TEXT;

ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN claimed_until TEXT;

-- The process that talks to the origin now, until when, and when its last request started (so
-- the next holder keeps `per_host_delay` after it).
ALTER TABLE hosts ADD COLUMN lease_holder TEXT;
ALTER TABLE hosts ADD COLUMN lease_until TEXT;
ALTER TABLE hosts ADD COLUMN last_request_at TEXT;

-- Claims held now are few; finding them (and a gone process's) must not scan every row.
CREATE INDEX documents_claimed ON documents (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE claimed_by IS NOT NULL;
