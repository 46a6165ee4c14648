-- govwatch on PostgreSQL, version 2: what the web pages read by (SQLite's 0014_web_speed and
-- 0015_search_words), so that every page reads an index rather than a table.

-- `/` lists the events unreviewed first, newest first: the index in that order (0001's ran `id`
-- ascending, which a scan cannot read in that order in either direction).
DROP INDEX events_triage;
CREATE INDEX events_triage ON events ((reviewed_at IS NOT NULL), id DESC);
-- `/` counts the unreviewed events without reading their rows.
CREATE INDEX events_unreviewed ON events (id) WHERE reviewed_at IS NULL;

-- A watch's page lists its documents newest first, skipping the pages before: in an index on
-- `watch` alone its entries are in row order, not id order (SQLite's carry the rowid).
DROP INDEX documents_watch;
CREATE INDEX documents_watch ON documents (watch, id);

-- How many documents each watch found, kept by triggers as on SQLite (0014), so that `/` and a
-- watch's page do not count 100,000 index entries on every view. Unlike SQLite's one row per
-- watch, a watch's count is spread over a few rows, one per `shard` (the inserting backend's
-- pid, modulo 8), and read as their sum: nodes that find documents of the same watch at once
-- would otherwise queue on one row, each holding its lock until it commits. A row may go
-- negative (a delete counted on another shard than the insert); the sum is right.
CREATE TABLE watch_documents (
    watch      text NOT NULL,
    shard      integer NOT NULL,
    documents  bigint NOT NULL,
    PRIMARY KEY (watch, shard)
);
INSERT INTO watch_documents (watch, shard, documents)
    SELECT watch, 0, count(*) FROM documents GROUP BY watch;

-- Per statement, not per row: `store copy` and a listing's discoveries insert many documents
-- in one statement, which then costs one update per watch.
CREATE FUNCTION govwatch_documents_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_documents AS w (watch, shard, documents)
        SELECT watch, pg_backend_pid() % 8, count(*) FROM counted GROUP BY watch
        ON CONFLICT (watch, shard) DO UPDATE SET documents = w.documents + excluded.documents;
    RETURN NULL;
END
$$;
CREATE FUNCTION govwatch_documents_uncounted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_documents AS w (watch, shard, documents)
        SELECT watch, pg_backend_pid() % 8, -count(*) FROM uncounted GROUP BY watch
        ON CONFLICT (watch, shard) DO UPDATE SET documents = w.documents + excluded.documents;
    RETURN NULL;
END
$$;
CREATE FUNCTION govwatch_documents_recounted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_documents AS w (watch, shard, documents)
        VALUES (OLD.watch, pg_backend_pid() % 8, -1), (NEW.watch, pg_backend_pid() % 8, 1)
        ON CONFLICT (watch, shard) DO UPDATE SET documents = w.documents + excluded.documents;
    RETURN NULL;
END
$$;
CREATE TRIGGER documents_counted AFTER INSERT ON documents
    REFERENCING NEW TABLE AS counted
    FOR EACH STATEMENT EXECUTE FUNCTION govwatch_documents_counted();
CREATE TRIGGER documents_uncounted AFTER DELETE ON documents
    REFERENCING OLD TABLE AS uncounted
    FOR EACH STATEMENT EXECUTE FUNCTION govwatch_documents_uncounted();
-- Per row, as transition tables cannot be had for `UPDATE OF` one column; a watch rarely
-- changes, and every check updates its document, so this fires only when it does.
CREATE TRIGGER documents_recounted AFTER UPDATE OF watch ON documents
    FOR EACH ROW WHEN (OLD.watch IS DISTINCT FROM NEW.watch)
    EXECUTE FUNCTION govwatch_documents_recounted();

-- Search by words (src/store/pg/search.rs says why tsvector, not pg_trgm): every stored version
-- and every imported corpus file, as SQLite's `search_words` (0015) indexes them. The words are
-- cut in Rust and written by the store in the transaction that writes the text (the texts are
-- zstd-compressed, which SQL cannot read); rows written otherwise (`store copy`, this migration
-- on a database that has versions) are indexed next by the store.
--   id           a version's snapshot id, or an imported corpus file's id negated (SQLite's rowids)
--   part         a long text is indexed in overlapping parts, each within tsvector's limits
--   document_id  the version's document (NULL for a corpus file): a search groups its matches
--                by document without reading the versions' rows
--   at           when the version was fetched or the file imported, for the date filters
CREATE TABLE search_words (
    id           bigint NOT NULL,
    part         integer NOT NULL,
    document_id  bigint,
    at           text NOT NULL,
    words        tsvector NOT NULL,
    PRIMARY KEY (id, part)
);
CREATE INDEX search_words_words ON search_words USING gin (words);

-- What goes, or changes its text, leaves the index at once (the store writes the new text's
-- rows after the update, in the same transaction).
CREATE FUNCTION govwatch_search_forget_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_words WHERE id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE FUNCTION govwatch_search_forget_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_words WHERE id IN (SELECT -id FROM gone WHERE origin = 'import');
    RETURN NULL;
END
$$;
CREATE TRIGGER snapshots_search_delete AFTER DELETE ON snapshots
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION govwatch_search_forget_versions();
CREATE TRIGGER corpus_search_delete AFTER DELETE ON corpus
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION govwatch_search_forget_files();
CREATE FUNCTION govwatch_search_forget_file() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_words WHERE id = -OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER corpus_search_update AFTER UPDATE OF text ON corpus
    FOR EACH ROW WHEN (OLD.origin = 'import' AND OLD.text IS DISTINCT FROM NEW.text)
    EXECUTE FUNCTION govwatch_search_forget_file();
