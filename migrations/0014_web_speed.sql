-- The web pages at 100,000 documents, one with 10,000 versions (issue 15's benchmark): what
-- they read, read without scanning or sorting.

-- `/` lists the events unreviewed first, newest first. 0012's index ran `id` ascending, so each
-- view sorted every unreviewed event again to find the newest 50 (100 ms at 20,000 events);
-- in the order the page reads, the index is read for the 50 and no more.
DROP INDEX events_triage;
CREATE INDEX events_triage ON events ((reviewed_at IS NOT NULL), id DESC);
-- `/` counts the unreviewed events without reading their rows.
CREATE INDEX events_unreviewed ON events (id) WHERE reviewed_at IS NULL;

-- How many documents each watch found, kept by triggers: counting them on every view of `/`
-- and of a watch's page walked 100,000 index entries, twice for a watch's page.
CREATE TABLE watch_documents (
    watch      TEXT PRIMARY KEY,
    documents  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO watch_documents (watch, documents) SELECT watch, count(*) FROM documents GROUP BY watch;

CREATE TRIGGER documents_counted AFTER INSERT ON documents
BEGIN
    INSERT INTO watch_documents (watch, documents) VALUES (NEW.watch, 1)
        ON CONFLICT (watch) DO UPDATE SET documents = documents + 1;
END;

CREATE TRIGGER documents_uncounted AFTER DELETE ON documents
BEGIN
    UPDATE watch_documents SET documents = documents - 1 WHERE watch = OLD.watch;
END;

CREATE TRIGGER documents_recounted AFTER UPDATE OF watch ON documents
    WHEN OLD.watch IS NOT NEW.watch
BEGIN
    UPDATE watch_documents SET documents = documents - 1 WHERE watch = OLD.watch;
    INSERT INTO watch_documents (watch, documents) VALUES (NEW.watch, 1)
        ON CONFLICT (watch) DO UPDATE SET documents = documents + 1;
END;

-- A search reads up to 1,001 matching versions to group them by document: which document and
-- version each is, and when it was fetched, from this narrow index (a few pages) rather than
-- from the rows that hold the texts (a page each). Read with INDEXED BY (src/store/search.rs):
-- a lookup by id otherwise goes to the table.
CREATE INDEX snapshots_found ON snapshots (id, document_id, version, fetched_at);
