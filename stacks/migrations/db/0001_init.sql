-- Gateway usage log: one row per upstream call (written by the gateway via `usage_binding`).
CREATE TABLE IF NOT EXISTS usage_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    key_name TEXT NOT NULL,
    scope TEXT NOT NULL,
    alias TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    status INTEGER NOT NULL,
    cache_status TEXT NOT NULL DEFAULT 'MISS' CHECK (cache_status IN ('HIT', 'MISS', 'BYPASS')),
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX IF NOT EXISTS usage_log_key_day ON usage_log (key_name, created_at);
CREATE INDEX IF NOT EXISTS usage_log_scope_day ON usage_log (scope, created_at);
