-- The corpus index, laid out for a corpus of 100,000 documents and more.
--
-- Both index tables are keyed by hashes, so a batch of new rows lands on pages all over their
-- B-trees: once a table was much larger than a batch, every commit re-wrote nearly all of its
-- pages (and those of the per-document indexes beside it), and an import slowed down in
-- proportion to the corpus. Now:
--
-- * new rows go to small `_recent` tables of the same shape, which are merged into the main
--   tables in key order once they hold a quarter as many rows (src/store/corpus.rs): each page of
--   a main table is re-written about once per merge instead of once per commit;
-- * the per-document indexes (corpus_fp_doc, corpus_lsh_doc) are gone: a document's rows are
--   found again from its stored signature and text, so they cost neither space nor writes;
-- * a fingerprint row is (hash, document), once per document: positions were never read.
--
-- No foreign keys: the rows are derived data that src/store/corpus.rs writes and removes with
-- the entry, and a cascade would have to scan the tables without a per-document index.

CREATE TABLE corpus_fp_v5 (
    hash       INTEGER NOT NULL,
    corpus_id  INTEGER NOT NULL,
    PRIMARY KEY (hash, corpus_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO corpus_fp_v5 (hash, corpus_id) SELECT hash, corpus_id FROM corpus_fp ORDER BY hash, corpus_id;
DROP TABLE corpus_fp;
ALTER TABLE corpus_fp_v5 RENAME TO corpus_fp;

CREATE TABLE corpus_lsh_v5 (
    band_key   INTEGER NOT NULL,
    corpus_id  INTEGER NOT NULL,
    PRIMARY KEY (band_key, corpus_id)
) WITHOUT ROWID;
INSERT INTO corpus_lsh_v5 (band_key, corpus_id) SELECT band_key, corpus_id FROM corpus_lsh ORDER BY band_key, corpus_id;
DROP TABLE corpus_lsh;
ALTER TABLE corpus_lsh_v5 RENAME TO corpus_lsh;

CREATE TABLE corpus_fp_recent (
    hash       INTEGER NOT NULL,
    corpus_id  INTEGER NOT NULL,
    PRIMARY KEY (hash, corpus_id)
) WITHOUT ROWID;

CREATE TABLE corpus_lsh_recent (
    band_key   INTEGER NOT NULL,
    corpus_id  INTEGER NOT NULL,
    PRIMARY KEY (band_key, corpus_id)
) WITHOUT ROWID;

-- Rows in the main and recent tables (both kinds together), kept by the code that writes them:
-- what decides when to merge. One row.
CREATE TABLE corpus_index_rows (
    main    INTEGER NOT NULL,
    recent  INTEGER NOT NULL
);
INSERT INTO corpus_index_rows (main, recent)
    SELECT (SELECT COUNT(*) FROM corpus_fp) + (SELECT COUNT(*) FROM corpus_lsh), 0;

-- Entries waiting to be indexed, found at every start without reading the whole corpus table.
CREATE INDEX corpus_unindexed ON corpus (id) WHERE minhash IS NULL;
