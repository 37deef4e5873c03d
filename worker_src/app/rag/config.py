"""The RAG section of `EDGESTACK_CONFIG`, as an immutable record parsed once per isolate.

The stack loader validated the section (`infra.spec.RagSpec`); this re-reads what the Worker relies
on, with the spec's defaults, and names the key path of anything unusable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from ..config import SectionCache
from .errors import RagError

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[Mode, ...] = ("hybrid", "vector", "keyword")
MAX_TOP_K = 20
FUSION_METHODS = ("rrf", "max")


class Fusion(NamedTuple):
    method: Literal["rrf", "max"] = "max"
    vector_weight: float = 1.0
    keyword_weight: float = 1.0


class MinScore(NamedTuple):
    vector: float | None = None
    keyword: float | None = None
    hybrid: float | None = None

    def floor(self, mode: Mode) -> float | None:
        return self.vector if mode == "vector" else self.keyword if mode == "keyword" else self.hybrid


class Rerank(NamedTuple):
    enabled: bool = False
    model: str = "@cf/baai/bge-reranker-base"
    top_n: int = 20


class RewriteQuery(NamedTuple):
    enabled: bool = False
    alias: str | None = None
    prompt: str | None = None


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
    fusion: Fusion = Fusion()
    min_score: MinScore = MinScore()
    rerank: Rerank = Rerank()
    rewrite_query: RewriteQuery = RewriteQuery()
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


def _misconfigured(message: str) -> RagError:
    return RagError(503, "misconfigured", f"rag misconfigured: {message}")


# Each nested section: its record and the JSON kinds of its fields (None: may be null).
_SECTIONS: dict[str, tuple[Any, dict[str, tuple[Any, ...]]]] = {
    "fusion": (Fusion, {"method": (str,), "vector_weight": (float,), "keyword_weight": (float,)}),
    "min_score": (MinScore, {"vector": (float, None), "keyword": (float, None), "hybrid": (float, None)}),
    "rerank": (Rerank, {"enabled": (bool,), "model": (str,), "top_n": (int,)}),
    "rewrite_query": (RewriteQuery, {"enabled": (bool,), "alias": (str, None), "prompt": (str, None)}),
}


def _accepts(item: Any, kinds: tuple[Any, ...]) -> bool:
    if item is None:
        return None in kinds
    if isinstance(item, bool):
        return bool in kinds
    if isinstance(item, int):
        return int in kinds or float in kinds
    return any(kind is not None and isinstance(item, kind) for kind in kinds)


def _parse_section(name: str, value: Any) -> Any:
    record, kinds = _SECTIONS[name]
    if not isinstance(value, Mapping):
        raise _misconfigured(f"rag.{name}: expected an object")
    unknown = sorted(set(value) - set(kinds))
    if unknown:
        raise _misconfigured(f"rag.{name}.{unknown[0]}: unknown key")
    values = {}
    for key, default in record()._asdict().items():
        item = value.get(key, default)
        if not _accepts(item, kinds[key]):
            raise _misconfigured(f"rag.{name}.{key}: unexpected {type(item).__name__}")
        values[key] = float(item) if float in kinds[key] and item is not None else item
    return record(**values)


def parse_rag_config(section: Any) -> RagConfig:
    if not isinstance(section, Mapping):
        raise _misconfigured("rag: expected an object")
    defaults = RagConfig(documents_binding="", index_binding="")
    values: dict[str, Any] = {}
    for name, default in defaults._asdict().items():
        value = section.get(name, default)
        if name in _SECTIONS:
            value = value if value is default else _parse_section(name, value)
        elif name == "filter_keys":
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
    if values["fusion"].method not in FUSION_METHODS:
        raise _misconfigured(f"rag.fusion.method: must be one of {', '.join(FUSION_METHODS)}")
    return RagConfig(**values)


CONFIG: SectionCache[RagConfig] = SectionCache("rag", parse_rag_config, (RagError,))
