-- RAG document catalogue: which R2 objects were chunked into how many vectors.
CREATE TABLE IF NOT EXISTS documents (
    r2_key TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    etag TEXT NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    indexed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX IF NOT EXISTS documents_tenant ON documents (tenant);
