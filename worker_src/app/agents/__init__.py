"""Stateful agents on Durable Objects (see docs/agents.md).

`routes` is the Worker side (/v1/agents, /v1/tools); `objects` the Durable Object side; `loop`
the tool-calling turn; `store` the object's SQLite; `outbox` the replication to D1; `tools`,
`runner` and `ssrf` the tools. Imported on first use (app.v1, entry.AgentState).
"""
