-- Site templates: which short text blocks appear on which documents of a host. A block found on
-- several documents of the same host is that host's boilerplate (a footer note, a "related"
-- heading, a disclaimer) and is dropped from the text of every page of the host.
CREATE TABLE template_blocks (
    host         TEXT NOT NULL,
    hash         INTEGER NOT NULL,          -- xxh3 of the block's whitespace-folded text
    document_id  INTEGER NOT NULL REFERENCES documents (id),
    PRIMARY KEY (host, hash, document_id)
) WITHOUT ROWID;
CREATE INDEX template_blocks_document ON template_blocks (document_id);
