"""The bindings RAG works on, resolved once per request from `Services` and the rag config."""

from __future__ import annotations

from dataclasses import dataclass

from ..bindings import (
    Clock,
    D1Database,
    KvNamespace,
    QueueProducer,
    R2Bucket,
    Sleep,
    VectorizeIndex,
    WaitUntil,
    WorkersAi,
)
from ..services import Services
from ..web.errors import ApiError
from .config import RagConfig, rag_config


@dataclass(frozen=True)
class Corpus:
    config: RagConfig
    bucket: R2Bucket
    index: VectorizeIndex
    catalog: D1Database
    keywords: D1Database
    ai: WorkersAi | None
    sleep: Sleep
    clock: Clock
    wait_until: WaitUntil
    faq: KvNamespace | None = None
    queue: QueueProducer | None = None


def _binding(kind: str, table: object, name: str | None, field: str) -> object:
    if not name:
        raise ApiError(503, "misconfigured", f"rag misconfigured: rag.{field} is not set")
    try:
        return table[name]  # type: ignore[index]
    except KeyError:
        raise ApiError(
            503,
            "misconfigured",
            f"rag misconfigured: rag.{field} names {name!r}, which is not a bound {kind}",
        ) from None


def corpus_for(services: Services, config: RagConfig | None = None) -> Corpus:
    """The corpus of this stack; 404 when the stack has no enabled rag section, 503 when misbound."""
    config = config or rag_config(services.config)
    return Corpus(
        config=config,
        bucket=_binding("R2 bucket", services.r2, config.documents_binding, "documents_binding"),  # type: ignore[arg-type]
        index=_binding("Vectorize index", services.vectorize, config.index_binding, "index_binding"),  # type: ignore[arg-type]
        catalog=_binding("D1 database", services.d1, config.catalog_binding, "catalog_binding"),  # type: ignore[arg-type]
        keywords=_binding(
            "D1 database", services.d1, config.keyword_binding or config.catalog_binding, "keyword_binding"
        ),  # type: ignore[arg-type]
        ai=services.ai,
        sleep=services.sleep,
        clock=services.clock,
        wait_until=services.wait_until,
        faq=services.kv.get(config.faq_cache_binding) if config.faq_cache_binding else None,
        queue=services.queues.get(config.queue_binding) if config.queue_binding else None,
    )
