-- govwatch schema, version 4: what govwatch knows of each server, and listing dates.

-- One row per origin (scheme://host:port) govwatch has fetched from.
CREATE TABLE hosts (
    origin             TEXT PRIMARY KEY,
    robots_status      INTEGER,      -- HTTP status of /robots.txt; NULL: unreachable
    robots             TEXT,         -- its body, when it had rules to keep
    robots_error       TEXT,         -- why it could not be fetched
    robots_fetched_at  TEXT,
    not_before         TEXT,         -- Retry-After: no request to this origin before then
    not_before_reason  TEXT
);

-- The date a feed or sitemap last gave for a document (entry updated / lastmod): when a listing
-- shows a later one, the document is checked again at once.
ALTER TABLE documents ADD COLUMN lastmod TEXT;

-- Hash of the body last fetched: a page served byte for byte as before costs no extraction.
ALTER TABLE documents ADD COLUMN body_hash TEXT;
