-- The corpus index: MinHash signatures with LSH band keys (near-duplicates and revisions), and
-- winnowed fingerprints with positions (containment in both directions: republications and
-- quotes). Replaces the per-document shingle sets, which were compared one by one.

ALTER TABLE corpus DROP COLUMN shingles;
ALTER TABLE corpus ADD COLUMN minhash BLOB;                       -- 128 little-endian u32; NULL: to index
ALTER TABLE corpus ADD COLUMN fp_count INTEGER NOT NULL DEFAULT 0; -- distinct fingerprint hashes

CREATE TABLE corpus_lsh (
    band_key   INTEGER NOT NULL,
    corpus_id  INTEGER NOT NULL REFERENCES corpus (id) ON DELETE CASCADE,
    PRIMARY KEY (band_key, corpus_id)
) WITHOUT ROWID;
CREATE INDEX corpus_lsh_doc ON corpus_lsh (corpus_id);

CREATE TABLE corpus_fp (
    hash       INTEGER NOT NULL,
    corpus_id  INTEGER NOT NULL REFERENCES corpus (id) ON DELETE CASCADE,
    pos        INTEGER NOT NULL,                 -- shingle position in the document's text
    PRIMARY KEY (hash, corpus_id, pos)
) WITHOUT ROWID;
CREATE INDEX corpus_fp_doc ON corpus_fp (corpus_id);

-- Events gain the verdicts `quotes` and `revision`, relevance, significance and details (JSON:
-- position statements, quoted sources). SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE events_v3 (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('new', 'changed', 'republication', 'duplicate', 'quotes', 'revision')),
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
    relevant     INTEGER NOT NULL DEFAULT 1,  -- 0: stored and listed, never mailed
    significance REAL NOT NULL DEFAULT 0.5,   -- orders digests
    details      TEXT                         -- JSON
);
INSERT INTO events_v3 (id, kind, document_id, snapshot_id, watch, url, title, detected_at, source, overlap,
                       added, removed, notified_at, message_id)
    SELECT id, kind, document_id, snapshot_id, watch, url, title, detected_at, source, overlap,
           added, removed, notified_at, message_id FROM events;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_pending ON events (id) WHERE notified_at IS NULL AND relevant = 1;
