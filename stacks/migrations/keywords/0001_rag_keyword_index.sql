-- RAG keyword index (issue 8): chunk rows plus an FTS5 external-content index over them, ranked
-- with bm25(). It lives in its own D1 database (rag.keyword_binding): a database holding a virtual
-- table cannot be exported, and this keeps the main database exportable.
CREATE TABLE IF NOT EXISTS rag_chunk_rows (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    title TEXT NOT NULL,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (tenant, doc_id, chunk)
);

CREATE VIRTUAL TABLE IF NOT EXISTS rag_chunks_fts USING fts5(
    title, heading, text, content='rag_chunk_rows', content_rowid='id', tokenize='porter unicode61'
);

CREATE TRIGGER IF NOT EXISTS rag_chunk_rows_insert AFTER INSERT ON rag_chunk_rows BEGIN
    INSERT INTO rag_chunks_fts (rowid, title, heading, text) VALUES (new.id, new.title, new.heading, new.text);
END;

CREATE TRIGGER IF NOT EXISTS rag_chunk_rows_delete AFTER DELETE ON rag_chunk_rows BEGIN
    INSERT INTO rag_chunks_fts (rag_chunks_fts, rowid, title, heading, text)
    VALUES ('delete', old.id, old.title, old.heading, old.text);
END;
