"""`RagWorld`: the Worker's `/v1` handler on CPython with the RAG binding fakes, for tests/rag.

It builds `Services` from the fakes in this folder (SQLite D1 with the real migrations, including the
FTS5 keyword index; R2, Vectorize, Queues and Workers AI fakes that follow the documented APIs, see
rag_bindings.py) and sends `HttpRequest`s through `app.router.handle`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from app.config import BuildInfo
from app.gateway.state import ISOLATE
from app.http import HttpRequest, HttpResponse
from app.router import handle
from app.services import Services

from .bindings import BackgroundTasks, FakeClock, InMemoryKv, RecordingSleep, SqliteD1
from .planned import key_sha256, planned_config, runtime_config
from .rag_bindings import FakeQueue, FakeR2, FakeVectorize, HashingAi

REPO = Path(__file__).resolve().parents[2]
KEYWORD_MIGRATIONS = sorted((REPO / "stacks" / "migrations" / "keywords").glob("*.sql"))
WRITER, READER, OTHER = "sk-writer", "sk-reader", "sk-other-tenant"
KEYS = {
    "writer": {"sha256": key_sha256(WRITER), "scope": "acme", "documents": "write"},
    "reader": {"sha256": key_sha256(READER), "scope": "acme"},
    "other": {"sha256": key_sha256(OTHER), "scope": "globex", "documents": "write"},
}


def rag_section(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "documents_binding": "DOCS",
        "index_binding": "VECTORS",
        "faq_cache_binding": "FAQ_CACHE",
        "catalog_binding": "DB",
        "keyword_binding": "KEYWORDS",
        "queue_binding": "RAG_INGEST",
        "generation": "extractive",
        "filter_keys": ["category", "year"],
        "chunk_chars": 400,
        "chunk_overlap": 40,
    }
    base.update(overrides)
    return base


class GeneratingAi(HashingAi):
    """Embeddings from the hashing embedder; text generation in Workers AI's `{response, usage}` shape
    (https://developers.cloudflare.com/workers-ai/models/llama-3.1-8b-instruct/), scripted by the test."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = "It is not supported; use WSL2 [1]."
        self.fail_generation: str | None = None
        self.prompts: list[list[dict[str, Any]]] = []

    async def run(self, model: str, inputs: Any) -> Any:
        if "text" in inputs:
            return await super().run(model, inputs)
        self.prompts.append(list(inputs["messages"]))
        if self.fail_generation:
            raise RuntimeError(self.fail_generation)
        usage = {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59}
        if inputs.get("stream"):
            return _sse(self.reply, usage)
        return {"response": self.reply, "usage": usage}


async def _sse(text: str, usage: dict[str, int]) -> Any:
    for word in text.split(" "):
        yield f"data: {json.dumps({'response': word + ' '})}\n\n".encode()
    yield f"data: {json.dumps({'response': '', 'usage': usage})}\n\n".encode()
    yield b"data: [DONE]\n\n"


LLM_GATEWAY = {
    "providers": {"wai": {"kind": "workers-ai"}},
    "routes": {
        "rag-llm": {
            "candidates": [{"provider": "wai", "model": "@cf/meta/llama-3.1-8b-instruct"}],
            "retry": {"max_attempts": 1},
        }
    },
    "usage_binding": "DB",
}


class RagWorld:
    def __init__(
        self,
        public: bool = False,
        lag: bool = False,
        llm: bool = False,
        indexes: dict[str, str] | None = None,
        **rag: Any,
    ) -> None:
        """`indexes`: more Vectorize metadata indexes (for filter keys beyond category and year)."""
        ISOLATE.reset()
        self.clock = FakeClock()
        self.background = BackgroundTasks()
        self.r2 = FakeR2()
        all_indexes = {"tenant": "string", "category": "string", "year": "number", **(indexes or {})}
        self.vectors = FakeVectorize(all_indexes, lag=lag)
        self.db = SqliteD1()
        self.keywords = SqliteD1(KEYWORD_MIGRATIONS)
        self.faq = InMemoryKv(self.clock)
        self.queue = FakeQueue()
        self.ai = GeneratingAi() if llm else HashingAi()
        if llm:
            rag = {"generation": "llm", "generation_alias": "rag-llm", **rag}
        gateway = {"public": public, "keys": KEYS, **(LLM_GATEWAY if llm else {})}
        # The world's index also filters on `year` (rag.filter_keys needs a metadata index per key).
        overlay = {"bindings": {"vectorize": {"VECTORS": {"metadata_indexes": {"year": "number", **(indexes or {})}}}}}
        self.config = planned_config({"gateway": gateway, "rag": rag_section(**rag)}, overlay=overlay)

    def services(self) -> Services:
        return Services(
            build=BuildInfo("test", "dev"),
            config=runtime_config(self.config),
            fetch=None,  # type: ignore[arg-type]
            wait_until=self.background,
            clock=self.clock,
            sleep=RecordingSleep(),
            kv={"FAQ_CACHE": self.faq},
            d1={"DB": self.db, "KEYWORDS": self.keywords},
            r2={"DOCS": self.r2},
            vectorize={"VECTORS": self.vectors},
            ai=self.ai,  # type: ignore[arg-type]
            queues={"RAG_INGEST": self.queue},
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        key: str | None = WRITER,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        all_headers = dict(headers or {})
        if key:
            all_headers["authorization"] = f"Bearer {key}"
        raw = b""
        if isinstance(body, dict):
            raw = json.dumps(body).encode()
            all_headers["content-type"] = content_type or "application/json"
        elif body is not None:
            raw = body
            all_headers["content-type"] = content_type or "text/plain"
        request = HttpRequest(method=method, url=f"https://edge.test{path}", headers=all_headers, body=raw)

        async def run() -> HttpResponse:
            response = await handle(request, self.services())
            if response.stream is not None:
                response.body = b"".join([chunk async for chunk in response.stream])
                response.stream = None
            await self.background.drain()
            return response

        return asyncio.run(run())

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        response = self.request(method, path, body, **kwargs)
        return response.status, json.loads(response.body) if response.body else None

    def put(self, doc_id: str, text: str, key: str = WRITER, **kwargs: Any) -> tuple[int, Any]:
        return self.json("PUT", f"/v1/documents/{doc_id}", text.encode(), key=key, **kwargs)

    def deliver_queue(self, max_rounds: int = 50) -> int:
        """Deliver queued messages to the consumer until none is left; a retried message comes back
        with `attempts + 1` (as Queues redelivers it). Returns how many deliveries were made."""
        from app.rag.consumer import consume

        delivered = 0
        waiting = [(body, 1) for body in self.queue.take()]
        for _ in range(max_rounds):
            if not waiting:
                return delivered
            retried: list[tuple[dict[str, Any], int]] = []
            messages = [
                (
                    body,
                    attempts,
                    (lambda: None),
                    (lambda b=body, a=attempts, out=retried: out.append((b, a + 1))),
                )
                for body, attempts in waiting
            ]
            asyncio.run(consume(messages, self.services()))
            delivered += len(messages)
            waiting = retried + [(body, 1) for body in self.queue.take()]
        raise AssertionError("the queue did not drain")

    # orphan checks ---------------------------------------------------------------------------

    def keyword_rows(self, tenant: str, doc_id: str) -> int:
        return self.keywords.query(
            "SELECT count(*) AS n FROM rag_chunk_rows WHERE tenant = ? AND doc_id = ?", (tenant, doc_id)
        )[0]["n"]

    def check_fts_integrity(self) -> None:
        """FTS5's own check that the index holds exactly the content rows (raises if not)."""
        self.keywords.query("INSERT INTO rag_chunks_fts (rag_chunks_fts, rank) VALUES ('integrity-check', 1)")

    def fts_matches(self, term: str) -> int:
        return self.keywords.query(
            "SELECT count(*) AS n FROM rag_chunks_fts WHERE rag_chunks_fts MATCH ?", (term,)
        )[0]["n"]

    def vector_count(self, tenant: str, doc_id: str) -> int:
        return len(self.vectors.ids_for(lambda m: m.get("tenant") == tenant and m.get("doc_id") == doc_id))
