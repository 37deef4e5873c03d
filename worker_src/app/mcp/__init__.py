"""MCP at the edge: `/mcp` serves the stack's RAG and agents to MCP clients (transport.py), and
agents use remote MCP servers' tools (the agents' `mcp` tool kind). See docs/mcp.md."""
