"""The RAG section of `EDGESTACK_CONFIG`, as an immutable record parsed once per isolate.

The stack loader validated the section (`infra.spec.RagSpec`) and the planner ships it complete;
this reads it without defaults of its own and names the key path of anything unusable.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from ..config import ConfigError, RuntimeConfig
from ..sections import Reader, SectionCache
from ..web.errors import ApiError

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[Mode, ...] = ("hybrid", "vector", "keyword")
GENERATIONS = ("llm", "extractive")
MAX_TOP_K = 20
FUSION_METHODS = ("rrf", "max")


class Fusion(NamedTuple):
    method: Literal["rrf", "max"]
    vector_weight: float
    keyword_weight: float


class MinScore(NamedTuple):
    vector: float | None
    keyword: float | None
    hybrid: float | None

    def floor(self, mode: Mode) -> float | None:
        return self.vector if mode == "vector" else self.keyword if mode == "keyword" else self.hybrid


class Rerank(NamedTuple):
    enabled: bool
    model: str
    top_n: int


class RewriteQuery(NamedTuple):
    enabled: bool
    alias: str | None
    prompt: str | None


class RagConfig(NamedTuple):
    enabled: bool
    documents_binding: str
    index_binding: str
    faq_cache_binding: str | None
    catalog_binding: str | None
    keyword_binding: str | None
    queue_binding: str | None
    embedding_model: str
    generation_alias: str | None
    generation: Literal["llm", "extractive"]
    mode: Mode
    fusion: Fusion
    min_score: MinScore
    rerank: Rerank
    rewrite_query: RewriteQuery
    chunk_chars: int
    chunk_overlap: int
    top_k: int
    faq_ttl_s: int
    filter_keys: frozenset[str]
    inline_max_bytes: int
    max_document_bytes: int
    ingest_on_upload: bool
    expose_as_model: str | None


def _fusion(reader: Reader) -> Fusion:
    fusion = reader.child("fusion", Fusion._fields)
    return Fusion(
        method=fusion.string("method", choices=FUSION_METHODS),  # type: ignore[arg-type]
        vector_weight=fusion.number("vector_weight"),
        keyword_weight=fusion.number("keyword_weight"),
    )


def _min_score(reader: Reader) -> MinScore:
    floor = reader.child("min_score", MinScore._fields)
    return MinScore(*(floor.optional_number(mode) for mode in MinScore._fields))


def _rerank(reader: Reader) -> Rerank:
    rerank = reader.child("rerank", Rerank._fields)
    return Rerank(
        enabled=rerank.boolean("enabled"), model=rerank.string("model"), top_n=rerank.integer("top_n", minimum=1)
    )


def _rewrite_query(reader: Reader) -> RewriteQuery:
    rewrite = reader.child("rewrite_query", RewriteQuery._fields)
    return RewriteQuery(
        enabled=rewrite.boolean("enabled"),
        alias=rewrite.optional_string("alias"),
        prompt=rewrite.optional_string("prompt"),
    )


def parse_rag_config(section: Any) -> RagConfig:
    """Parse the `rag` section; raise `ConfigError` naming the key path."""
    reader = Reader(section, "rag", RagConfig._fields)
    return RagConfig(
        enabled=reader.boolean("enabled"),
        documents_binding=reader.string("documents_binding"),
        index_binding=reader.string("index_binding"),
        faq_cache_binding=reader.optional_string("faq_cache_binding"),
        catalog_binding=reader.optional_string("catalog_binding"),
        keyword_binding=reader.optional_string("keyword_binding"),
        queue_binding=reader.optional_string("queue_binding"),
        embedding_model=reader.string("embedding_model"),
        generation_alias=reader.optional_string("generation_alias"),
        generation=reader.string("generation", choices=GENERATIONS),  # type: ignore[arg-type]
        mode=reader.string("mode", choices=MODES),  # type: ignore[arg-type]
        fusion=_fusion(reader),
        min_score=_min_score(reader),
        rerank=_rerank(reader),
        rewrite_query=_rewrite_query(reader),
        chunk_chars=reader.integer("chunk_chars", minimum=1),
        chunk_overlap=reader.integer("chunk_overlap"),
        top_k=reader.integer("top_k", minimum=1),
        faq_ttl_s=reader.integer("faq_ttl_s", minimum=1),
        filter_keys=frozenset(reader.strings("filter_keys")),
        inline_max_bytes=reader.integer("inline_max_bytes", minimum=1),
        max_document_bytes=reader.integer("max_document_bytes", minimum=1),
        ingest_on_upload=reader.boolean("ingest_on_upload"),
        expose_as_model=reader.optional_string("expose_as_model"),
    )


CONFIG: SectionCache[RagConfig] = SectionCache("rag", parse_rag_config)


def rag_config(config: RuntimeConfig) -> RagConfig:
    """The stack's enabled rag section; ApiError 404 when it has none, 503 when it is unusable."""
    try:
        rag = CONFIG.get(config)
    except ConfigError as error:
        raise ApiError(503, "misconfigured", f"rag misconfigured: {error}") from None
    if rag is None or not rag.enabled:
        raise ApiError(404, "not_found", "RAG is not enabled on this stack (no rag section)")
    return rag


def rag_model(config: RuntimeConfig) -> str | None:
    """`rag.expose_as_model` of an enabled, usable rag section: the model name RAG answers as."""
    try:
        rag = CONFIG.get(config)
    except ConfigError:
        return None  # its routes answer 503 with the reason
    return rag.expose_as_model if rag is not None and rag.enabled else None


def rag_enabled(config: RuntimeConfig) -> bool:
    """Whether the stack has an enabled rag section (an unusable one counts: its use answers why)."""
    try:
        rag = CONFIG.get(config)
    except ConfigError:
        return True
    return rag is not None and rag.enabled
