-- The web pages (src/web): triage marks on events, when a document's failures in a row began,
-- the indexes the pages read by, and the full-text search over every stored version and every
-- imported corpus file.

-- Triage. reviewed_at: when someone marked the event reviewed (NULL: not reviewed).
ALTER TABLE events ADD COLUMN reviewed_at TEXT;
ALTER TABLE events ADD COLUMN important INTEGER NOT NULL DEFAULT 0;
-- `/` lists the newest events, unreviewed first.
CREATE INDEX events_triage ON events ((reviewed_at IS NOT NULL), id);
-- A document's page says what each version's event was; an event page finds its document.
CREATE INDEX events_snapshot ON events (snapshot_id) WHERE snapshot_id IS NOT NULL;
CREATE INDEX events_document ON events (document_id);

-- `documents.failing_since` (when the current run of failed checks began) comes from 0008.
-- `/` counts the failing documents of each watch without reading the others.
CREATE INDEX documents_failing ON documents (watch) WHERE failures > 0;

-- Search. Two contentless FTS5 indexes over the same texts (the texts stay compressed in their
-- own tables; snippets are cut from them): the trigram one finds any string of three characters
-- or more, inside unspaced Chinese too (数据出境); the words one, over the text with every CJK
-- character a word of its own, answers the shorter queries trigrams cannot ("AI", "数据").
-- Rowids: a snapshot's id; an imported corpus file's id, negated.
-- govwatch_text() (zstd to text) and govwatch_words() (CJK spaced) are registered by the store on
-- every connection it opens (src/store/search.rs).
CREATE VIRTUAL TABLE search_trigram USING fts5 (text, content = '', contentless_delete = 1, tokenize = 'trigram');
CREATE VIRTUAL TABLE search_words USING fts5 (text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');

INSERT INTO search_trigram (rowid, text) SELECT id, govwatch_text(text) FROM snapshots;
INSERT INTO search_words (rowid, text) SELECT id, govwatch_words(govwatch_text(text)) FROM snapshots;
INSERT INTO search_trigram (rowid, text)
    SELECT -id, govwatch_text(text) FROM corpus WHERE origin = 'import' AND text IS NOT NULL;
INSERT INTO search_words (rowid, text)
    SELECT -id, govwatch_words(govwatch_text(text)) FROM corpus WHERE origin = 'import' AND text IS NOT NULL;

CREATE TRIGGER snapshots_search AFTER INSERT ON snapshots
BEGIN
    INSERT INTO search_trigram (rowid, text) VALUES (NEW.id, govwatch_text(NEW.text));
    INSERT INTO search_words (rowid, text) VALUES (NEW.id, govwatch_words(govwatch_text(NEW.text)));
END;

CREATE TRIGGER corpus_search_insert AFTER INSERT ON corpus
    WHEN NEW.origin = 'import' AND NEW.text IS NOT NULL
BEGIN
    INSERT INTO search_trigram (rowid, text) VALUES (-NEW.id, govwatch_text(NEW.text));
    INSERT INTO search_words (rowid, text) VALUES (-NEW.id, govwatch_words(govwatch_text(NEW.text)));
END;

CREATE TRIGGER corpus_search_update AFTER UPDATE OF text ON corpus
    WHEN NEW.origin = 'import'
BEGIN
    DELETE FROM search_trigram WHERE rowid = -OLD.id;
    DELETE FROM search_words WHERE rowid = -OLD.id;
    INSERT INTO search_trigram (rowid, text) SELECT -NEW.id, govwatch_text(NEW.text) WHERE NEW.text IS NOT NULL;
    INSERT INTO search_words (rowid, text)
        SELECT -NEW.id, govwatch_words(govwatch_text(NEW.text)) WHERE NEW.text IS NOT NULL;
END;

CREATE TRIGGER corpus_search_delete AFTER DELETE ON corpus
    WHEN OLD.origin = 'import'
BEGIN
    DELETE FROM search_trigram WHERE rowid = -OLD.id;
    DELETE FROM search_words WHERE rowid = -OLD.id;
END;
