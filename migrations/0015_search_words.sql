-- Search by words only. 0012 kept two indexes over every stored version: a trigram one (any
-- substring) and a words one (every CJK character a word of its own). The trigram index was the
-- largest thing in a database (103 MiB for 10,000 twenty-kilobyte pages, more than the
-- compressed versions themselves) and doubled the CPU of a first pass, since every new version
-- is indexed inside the write. The words index answers the same questions a reader asks: a
-- phrase of words, its last word as a prefix ("encrypt" finds "encryption"), and Chinese as a
-- phrase of characters, so 数据出境 is still found inside unspaced text. What it no longer finds
-- is a string inside a word ("crypt" in "encryption").
DROP TRIGGER snapshots_search;
DROP TRIGGER corpus_search_insert;
DROP TRIGGER corpus_search_update;
DROP TRIGGER corpus_search_delete;
DROP TABLE search_trigram;

CREATE TRIGGER snapshots_search AFTER INSERT ON snapshots
BEGIN
    INSERT INTO search_words (rowid, text) VALUES (NEW.id, govwatch_words(govwatch_text(NEW.text)));
END;

CREATE TRIGGER corpus_search_insert AFTER INSERT ON corpus
    WHEN NEW.origin = 'import' AND NEW.text IS NOT NULL
BEGIN
    INSERT INTO search_words (rowid, text) VALUES (-NEW.id, govwatch_words(govwatch_text(NEW.text)));
END;

CREATE TRIGGER corpus_search_update AFTER UPDATE OF text ON corpus
    WHEN NEW.origin = 'import'
BEGIN
    DELETE FROM search_words WHERE rowid = -OLD.id;
    INSERT INTO search_words (rowid, text)
        SELECT -NEW.id, govwatch_words(govwatch_text(NEW.text)) WHERE NEW.text IS NOT NULL;
END;

CREATE TRIGGER corpus_search_delete AFTER DELETE ON corpus
    WHEN OLD.origin = 'import'
BEGIN
    DELETE FROM search_words WHERE rowid = -OLD.id;
END;
