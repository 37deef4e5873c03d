-- AI gateway: one row per /v1 request (written through waitUntil) and daily per-key counters.
-- Read by GET /v1/usage; see docs/gateway.md.
CREATE TABLE IF NOT EXISTS gateway_usage (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,            -- request start, unix milliseconds
  api TEXT NOT NULL,                 -- 'openai' | 'anthropic' (the API the client spoke)
  status INTEGER NOT NULL,           -- HTTP status returned to the client (499: client went away)
  key_id TEXT,                       -- virtual key name; NULL for anonymous (public gateway)
  ip_hash TEXT,                      -- salted sha256 of the client IP, truncated
  alias TEXT,                        -- model alias the client asked for
  provider TEXT,                     -- provider that answered (or was last tried)
  model TEXT,                        -- upstream model
  stream INTEGER NOT NULL DEFAULT 0,
  error_type TEXT,
  input_tokens INTEGER NOT NULL DEFAULT 0,   -- all prompt tokens, cached ones included
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL DEFAULT 0,
  latency_ms INTEGER NOT NULL DEFAULT 0,     -- until the last byte
  ttfb_ms INTEGER,                           -- until the first byte (streams)
  cache_status TEXT NOT NULL,                -- 'HIT' | 'MISS' | 'BYPASS'
  attempts INTEGER NOT NULL DEFAULT 0,
  request_body TEXT,                         -- only when gateway.log_bodies is true
  response_body TEXT
);
CREATE INDEX IF NOT EXISTS gateway_usage_ts ON gateway_usage (ts_ms);
CREATE INDEX IF NOT EXISTS gateway_usage_key_ts ON gateway_usage (key_id, ts_ms);

CREATE TABLE IF NOT EXISTS gateway_key_usage_daily (
  key_id TEXT NOT NULL,
  day TEXT NOT NULL,                 -- UTC, YYYY-MM-DD
  requests INTEGER NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, day)
);
