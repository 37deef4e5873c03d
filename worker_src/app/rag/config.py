"""The RAG section of `EDGESTACK_CONFIG`, as an immutable record parsed once per isolate.

The stack loader validated the section (`infra.spec.RagSpec`); this re-reads what the Worker relies
on, with the spec's defaults, and names the key path of anything unusable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from ..config import SectionCache
from ..web.errors import ApiError

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[Mode, ...] = ("hybrid", "vector", "keyword")
MAX_TOP_K = 20


class RagConfig(NamedTuple):
    documents_binding: str
    index_binding: str
    catalog_binding: str | None = None
    keyword_binding: str | None = None
    faq_cache_binding: str | None = None
    queue_binding: str | None = None
    embedding_model: str = "@cf/baai/bge-small-en-v1.5"
    generation_alias: str | None = None
    generation: Literal["llm", "extractive"] = "llm"
    mode: Mode = "hybrid"
    chunk_chars: int = 1200
    chunk_overlap: int = 150
    top_k: int = 5
    faq_ttl_s: int = 86400
    filter_keys: frozenset[str] = frozenset()
    inline_max_bytes: int = 262_144
    max_document_bytes: int = 10 * 1_048_576
    ingest_on_upload: bool = False
    expose_as_model: str | None = None
    enabled: bool = True


def _misconfigured(message: str) -> ApiError:
    return ApiError(503, "misconfigured", f"rag misconfigured: {message}")


def parse_rag_config(section: Any) -> RagConfig:
    if not isinstance(section, Mapping):
        raise _misconfigured("rag: expected an object")
    defaults = RagConfig(documents_binding="", index_binding="")
    values: dict[str, Any] = {}
    for name, default in defaults._asdict().items():
        value = section.get(name, default)
        if name == "filter_keys":
            if not isinstance(value, list | tuple | frozenset) or not all(isinstance(k, str) for k in value):
                raise _misconfigured("rag.filter_keys: expected a list of strings")
            value = frozenset(value)
        elif default is not None and not isinstance(value, type(default)):
            raise _misconfigured(f"rag.{name}: expected {type(default).__name__}")
        values[name] = value
    for name in ("documents_binding", "index_binding"):
        if not values[name]:
            raise _misconfigured(f"rag.{name}: required")
    if values["mode"] not in MODES:
        raise _misconfigured(f"rag.mode: must be one of {', '.join(MODES)}")
    return RagConfig(**values)


CONFIG: SectionCache[RagConfig] = SectionCache("rag", parse_rag_config, (ApiError,))
