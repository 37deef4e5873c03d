-- AI gateway: stored Responses API responses (`store: true`), for `previous_response_id` and
-- GET/DELETE /v1/responses/{id}. Tenant-scoped; rows past `expires_at` are never read and are
-- deleted as new responses are stored. See docs/gateway.md ("Responses API").
CREATE TABLE IF NOT EXISTS gateway_responses (
  id TEXT PRIMARY KEY,               -- resp_...
  tenant TEXT NOT NULL,              -- the virtual key's scope ('public' for anonymous callers)
  created_at INTEGER NOT NULL,       -- unix seconds
  expires_at INTEGER NOT NULL,       -- unix seconds (created_at + gateway.response_store.ttl_s)
  history TEXT NOT NULL,             -- JSON list: the conversation's input items up to this response
  response TEXT NOT NULL             -- JSON: the response object
);
CREATE INDEX IF NOT EXISTS gateway_responses_expiry ON gateway_responses (expires_at);
