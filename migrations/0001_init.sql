-- govwatch schema, version 1.
-- Timestamps are RFC 3339 UTC text; text and bodies are zstd-compressed blobs.

-- Every URL govwatch checks: a watch's own page, an index page, or a document found on an index.
CREATE TABLE documents (
    id               INTEGER PRIMARY KEY,
    url              TEXT NOT NULL UNIQUE,
    watch            TEXT NOT NULL,          -- the watch that first found it
    role             TEXT NOT NULL CHECK (role IN ('page', 'index', 'document')),
    announce         INTEGER NOT NULL DEFAULT 0, -- its first good fetch is an event, not a baseline
    discovered_at    TEXT NOT NULL,
    etag             TEXT,
    last_modified    TEXT,
    last_checked_at  TEXT,
    last_changed_at  TEXT,
    next_due_at      TEXT,                   -- NULL: due now
    failures         INTEGER NOT NULL DEFAULT 0, -- consecutive failed checks
    total_failures   INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT
);
CREATE INDEX documents_watch ON documents (watch);

-- One row per distinct version of a document's extracted text.
CREATE TABLE snapshots (
    id            INTEGER PRIMARY KEY,
    document_id   INTEGER NOT NULL REFERENCES documents (id),
    version       INTEGER NOT NULL,
    fetched_at    TEXT NOT NULL,
    text_hash     TEXT NOT NULL,
    title         TEXT,
    published     TEXT,
    lang          TEXT,
    canonical     TEXT,
    encoding      TEXT,
    content_type  TEXT,
    words         INTEGER NOT NULL,
    text          BLOB NOT NULL,             -- zstd
    body          BLOB,                      -- zstd, the bytes as served
    UNIQUE (document_id, version)
);

-- Known documents: imported files, and the latest snapshot of every stored document.
CREATE TABLE corpus (
    id           INTEGER PRIMARY KEY,
    origin       TEXT NOT NULL CHECK (origin IN ('import', 'snapshot')),
    name         TEXT NOT NULL,              -- file name, or the document's URL
    document_id  INTEGER REFERENCES documents (id),
    snapshot_id  INTEGER REFERENCES snapshots (id),
    title        TEXT,
    text_hash    TEXT NOT NULL,
    words        INTEGER NOT NULL,
    shingles     BLOB NOT NULL,              -- sorted u64 shingle hashes, little-endian
    text         BLOB,                       -- zstd; imports only (snapshots keep their own)
    added_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX corpus_import_name ON corpus (name) WHERE origin = 'import';
CREATE UNIQUE INDEX corpus_document ON corpus (document_id) WHERE origin = 'snapshot';
CREATE INDEX corpus_hash ON corpus (text_hash);

-- What was found. notified_at is NULL while the event is waiting to be mailed.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('new', 'changed', 'republication', 'duplicate')),
    document_id  INTEGER NOT NULL REFERENCES documents (id),
    snapshot_id  INTEGER REFERENCES snapshots (id),
    watch        TEXT NOT NULL,
    url          TEXT NOT NULL,
    title        TEXT,
    detected_at  TEXT NOT NULL,
    source       TEXT,                       -- for republication and duplicate: URL or corpus file name
    overlap      REAL,                       -- measured share behind the verdict
    added        TEXT,                       -- for changed: sentences added
    removed      TEXT,                       -- for changed: sentences removed
    notified_at  TEXT,
    message_id   TEXT
);
CREATE INDEX events_pending ON events (id) WHERE notified_at IS NULL;
