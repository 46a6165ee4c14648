-- Every stored version of a document is a candidate source, not only its newest: a copy of the
-- paper as first published is traced to that version. A stored document now has one corpus
-- entry per distinct text it has had (a text it returns to is the same entry, pointing at its
-- newest snapshot with that text); the index tables keep their layout, with rows per entry.
DROP INDEX corpus_document;
CREATE UNIQUE INDEX corpus_document_text ON corpus (document_id, text_hash) WHERE origin = 'snapshot';

-- The earlier versions of documents stored before this migration, unindexed: they are signed
-- and indexed by the next command that compares with the corpus (`corpus_unindexed`).
INSERT INTO corpus (origin, name, document_id, snapshot_id, title, text_hash, words, added_at)
    SELECT 'snapshot', d.url, s.document_id, s.id, s.title, s.text_hash, s.words, s.fetched_at
    FROM snapshots s JOIN documents d ON d.id = s.document_id
    WHERE d.role != 'index'
      AND s.version = (SELECT MAX(s2.version) FROM snapshots s2
                       WHERE s2.document_id = s.document_id AND s2.text_hash = s.text_hash)
      AND NOT EXISTS (SELECT 1 FROM corpus c
                      WHERE c.origin = 'snapshot' AND c.document_id = s.document_id AND c.text_hash = s.text_hash)
    ORDER BY s.id;
