-- Agents: the queryable history of every agent's messages, replicated from each agent's Durable
-- Object (its SQLite outbox) with idempotent inserts keyed by message id. See docs/agents.md.
CREATE TABLE IF NOT EXISTS agent_messages (
  id TEXT PRIMARY KEY,               -- message id, assigned by the agent's Durable Object
  tenant TEXT NOT NULL,              -- the virtual key's scope ('public' for anonymous callers)
  agent_id TEXT NOT NULL,
  seq INTEGER NOT NULL,              -- position in the agent's conversation (1, 2, ...)
  role TEXT NOT NULL,                -- 'user' | 'assistant' | 'tool'
  content TEXT,
  tool_calls TEXT,                   -- JSON list (OpenAI format) on assistant messages
  tool_call_id TEXT,                 -- on tool messages
  created_at TEXT NOT NULL           -- ISO 8601, UTC
);
CREATE INDEX IF NOT EXISTS agent_messages_agent_seq ON agent_messages (tenant, agent_id, seq);
