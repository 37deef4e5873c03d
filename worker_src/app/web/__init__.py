"""What every `/v1` feature shares, below the gateway, RAG and agents: structured logs, SSE,
request-body helpers, the API error shape, and the caller's identity (virtual keys, rate limits).

Nothing here imports `app.gateway`, `app.rag` or `app.agents` (tests/test_worker_layering.py).
"""
