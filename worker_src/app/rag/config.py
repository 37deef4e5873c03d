"""The RAG section of `EDGESTACK_CONFIG`, as an immutable record parsed once per isolate.

The stack loader validated the section (`infra.spec.RagSpec`) and the planner ships it complete;
this reads it without defaults of its own and names the key path of anything unusable.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from ..config import ConfigError, Reader, RuntimeConfig, SectionCache
from ..web.errors import ApiError

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[Mode, ...] = ("hybrid", "vector", "keyword")
GENERATIONS = ("llm", "extractive")
MAX_TOP_K = 20


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
    chunk_chars: int
    chunk_overlap: int
    top_k: int
    faq_ttl_s: int
    filter_keys: frozenset[str]
    inline_max_bytes: int
    max_document_bytes: int
    ingest_on_upload: bool
    expose_as_model: str | None


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
