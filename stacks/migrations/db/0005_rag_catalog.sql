-- RAG document catalogue (issue 8): one row per (tenant, document), and a per-tenant corpus
-- version that every document change bumps (the FAQ cache keys on it).
CREATE TABLE IF NOT EXISTS rag_documents (
    tenant TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('indexing', 'ready', 'failed')),
    reason TEXT,
    chunks INTEGER NOT NULL DEFAULT 0,
    -- vector ids <prefix>:0 .. <prefix>:(vector_slots - 1) may exist; deletes cover all of them
    vector_slots INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, doc_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS rag_corpus (
    tenant TEXT PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
