"""The AI gateway: the LLM proxy behind OpenAI- and Anthropic-compatible `/v1` endpoints
(see docs/gateway.md). Its HTTP routes are in `http.py` (reached from `app/v1.py`); RAG and
agents call it in-process through `internal.py` only.
"""
