-- govwatch schema, version 8: withdrawn documents, failing watches, and what each recipient is
-- mailed.

-- Events gain the kinds `removed` (a known document withdrawn), `failing` and `recovered` (a
-- watch's notices). SQLite cannot change a CHECK, so the table is rebuilt; `deliveries` refers
-- to it, so it is set aside and rebuilt after it (with foreign keys on, dropping a table that
-- rows still refer to fails).
CREATE TABLE events_v8 (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('new', 'changed', 'republication', 'duplicate', 'quotes',
                                               'revision', 'removed', 'failing', 'recovered')),
    document_id  INTEGER NOT NULL REFERENCES documents (id),
    snapshot_id  INTEGER REFERENCES snapshots (id),
    watch        TEXT NOT NULL,
    url          TEXT NOT NULL,
    title        TEXT,
    detected_at  TEXT NOT NULL,
    source       TEXT,
    overlap      REAL,
    added        TEXT,
    removed      TEXT,
    notified_at  TEXT,
    message_id   TEXT,
    relevant     INTEGER NOT NULL DEFAULT 1,
    significance REAL NOT NULL DEFAULT 0.5,
    details      TEXT
);
INSERT INTO events_v8 SELECT id, kind, document_id, snapshot_id, watch, url, title, detected_at, source, overlap,
                             added, removed, notified_at, message_id, relevant, significance, details
                      FROM events;

CREATE TABLE deliveries_v8_rows AS SELECT * FROM deliveries;
DROP TABLE deliveries;
DROP TABLE events;
ALTER TABLE events_v8 RENAME TO events;
CREATE INDEX events_pending ON events (id) WHERE notified_at IS NULL AND relevant = 1;

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events (id),
    recipient        TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    mode             TEXT NOT NULL CHECK (mode IN ('immediate', 'digest')),
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    message_id       TEXT,
    sent_at          TEXT,
    created_at       TEXT NOT NULL,
    claimed_by       TEXT,
    claimed_until    TEXT,
    UNIQUE (event_id, recipient, channel, mode)
);
INSERT INTO deliveries (id, event_id, recipient, channel, mode, state, attempts, next_attempt_at, last_error,
                        message_id, sent_at, created_at, claimed_by, claimed_until)
    SELECT id, event_id, recipient, channel, mode, state, attempts, next_attempt_at, last_error,
           message_id, sent_at, created_at, claimed_by, claimed_until
    FROM deliveries_v8_rows;
DROP TABLE deliveries_v8_rows;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_message ON deliveries (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX deliveries_claimed ON deliveries (claimed_by) WHERE claimed_by IS NOT NULL;

-- Whether a document is there (src/check/presence.rs decides from these).
-- Checks in a row that found it gone: 404, 410, or a page-not-found page.
ALTER TABLE documents ADD COLUMN gone_checks INTEGER NOT NULL DEFAULT 0;
-- When its `removed` event was made; NULL while it is there. One event per withdrawal.
ALTER TABLE documents ADD COLUMN removed_at TEXT;
-- The listing (a document of role 'index') it was found on, and when that listing was first seen
-- without it (NULL while it is listed).
ALTER TABLE documents ADD COLUMN listed_by INTEGER;
ALTER TABLE documents ADD COLUMN unlisted_at TEXT;
-- The first failed check of the current run of failures, and whether the watch's `failing`
-- notice was made for it.
ALTER TABLE documents ADD COLUMN failing_since TEXT;
ALTER TABLE documents ADD COLUMN failing_noticed INTEGER NOT NULL DEFAULT 0;
UPDATE documents SET failing_since = last_checked_at WHERE failures > 0;

CREATE INDEX documents_listed_by ON documents (listed_by) WHERE listed_by IS NOT NULL;
