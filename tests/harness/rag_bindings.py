"""In-memory fakes of the bindings RAG uses beyond `bindings.py`, for CPython runs and bench/rag.py.

- R2 (https://developers.cloudflare.com/r2/api/workers/workers-api-reference/): `put(key, value,
  {httpMetadata, customMetadata})`, `get`/`head` return the object's metadata; custom metadata values
  are strings.
- Vectorize (https://developers.cloudflare.com/vectorize/reference/client-api/): upserts of at most
  1000 vectors, ids of at most 64 bytes, metadata of at most 10 KiB, `deleteByIds` of at most 100 ids
  (the cap projects report), namespaces (a query sees only its namespace), `topK` at most 20 with
  `returnMetadata: "all"`, filters `$eq $ne $in $nin` on *indexed* metadata only, where a missing value
  equals only `null`. Mutations apply asynchronously on Cloudflare: with `lag=True` they wait until
  `apply_pending()`, so tests can see what a caller sees in between.
- Queues (https://developers.cloudflare.com/queues/configuration/javascript-apis/): `send(body)`;
  the fake keeps messages for the test to deliver.
- Workers AI embeddings: `{shape, data}` from the hashing embedder of `edgestack dev`
  (infra/dev/embeddings.py), so vectors are deterministic; `fail_next` injects errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.bindings import R2ObjectInfo, Vector, VectorMatch, VectorQuery

from infra.dev.embedders import HashingEmbedder


class FakeR2:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, R2ObjectInfo]] = {}
        self.puts = 0

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def put_object(
        self, key: str, data: bytes, content_type: str, custom_metadata: Mapping[str, str]
    ) -> None:
        assert all(isinstance(v, str) for v in custom_metadata.values()), "R2 custom metadata is strings"
        self.puts += 1
        self.objects[key] = (bytes(data), R2ObjectInfo(key, len(data), content_type, dict(custom_metadata)))

    async def get_object(self, key: str) -> tuple[bytes, R2ObjectInfo] | None:
        return self.objects.get(key)

    async def head(self, key: str) -> R2ObjectInfo | None:
        found = self.objects.get(key)
        return found[1] if found else None


class VectorizeLimitError(ValueError):
    pass


def _equal(indexed: Any, operand: Any) -> bool:
    if operand is None:
        return indexed is None
    return indexed is not None and type(indexed) is type(operand) and indexed == operand


def _matches(indexed: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    for key, spec in filter.items():
        value = indexed.get(key)
        ops = spec if isinstance(spec, dict) else {"$eq": spec}
        for op, operand in ops.items():
            if op == "$eq" and not _equal(value, operand):
                return False
            if op == "$ne" and _equal(value, operand):
                return False
            if op == "$in" and not any(_equal(value, o) for o in operand):
                return False
            if op == "$nin" and any(_equal(value, o) for o in operand):
                return False
            if op not in ("$eq", "$ne", "$in", "$nin"):
                raise VectorizeLimitError(f"unsupported operator {op}")
    return True


class FakeVectorize:
    def __init__(self, metadata_indexes: Mapping[str, str], dimensions: int = 384, lag: bool = False) -> None:
        self.metadata_indexes = dict(metadata_indexes)
        self.dimensions = dimensions
        self.lag = lag
        self.vectors: dict[str, Vector] = {}
        self.pending: list[tuple[str, Any]] = []
        self.calls: list[tuple[str, int]] = []

    def _indexed(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """The values the metadata indexes hold (strings: their first 64 bytes)."""
        out: dict[str, Any] = {}
        for key, kind in self.metadata_indexes.items():
            value = metadata.get(key)
            if kind == "string" and isinstance(value, str):
                out[key] = value.encode()[:64].decode("utf-8", "ignore")
            elif kind == "number" and isinstance(value, int | float) and not isinstance(value, bool) or kind == "boolean" and isinstance(value, bool):
                out[key] = value
        return out

    def _apply(self, op: str, payload: Any) -> None:
        if op == "upsert":
            for vector in payload:
                self.vectors[vector.id] = vector
        else:
            for vid in payload:
                self.vectors.pop(vid, None)

    def apply_pending(self) -> None:
        for op, payload in self.pending:
            self._apply(op, payload)
        self.pending.clear()

    def _mutate(self, op: str, payload: Any) -> None:
        if self.lag:
            self.pending.append((op, payload))
        else:
            self._apply(op, payload)

    async def upsert(self, vectors: Sequence[Vector]) -> int:
        self.calls.append(("upsert", len(vectors)))
        if len(vectors) > 1000:
            raise VectorizeLimitError("too many vectors in payload; max is 1000")
        for vector in vectors:
            if len(vector.id.encode()) > 64:
                raise VectorizeLimitError(f"id {vector.id!r} is over 64 bytes")
            if len(json.dumps(vector.metadata).encode()) > 10 * 1024:
                raise VectorizeLimitError("metadata over 10 KiB")
            if len(vector.values) != self.dimensions:
                raise VectorizeLimitError("wrong dimensions")
        self._mutate("upsert", list(vectors))
        return len(vectors)

    async def query(self, vector: Sequence[float], options: VectorQuery) -> list[VectorMatch]:
        top_k = options.top_k
        self.calls.append(("query", top_k))
        if top_k > (20 if options.return_metadata == "all" or options.return_values else 100):
            raise VectorizeLimitError("topK too large")
        for key in options.filter or {}:
            assert key in self.metadata_indexes, f"filter on unindexed metadata key {key!r} matches nothing"
        scored = []
        for stored in self.vectors.values():
            if stored.namespace != options.namespace:
                continue
            if options.filter and not _matches(self._indexed(stored.metadata), options.filter):
                continue
            score = sum(a * b for a, b in zip(vector, stored.values, strict=True))
            scored.append((score, stored))
        scored.sort(key=lambda pair: -pair[0])
        with_metadata = options.return_metadata == "all"
        return [
            VectorMatch(id=s.id, score=score, metadata=dict(s.metadata) if with_metadata else None)
            for score, s in scored[:top_k]
        ]

    async def get_by_ids(self, ids: Sequence[str]) -> list[Vector]:
        return [self.vectors[i] for i in ids if i in self.vectors]

    async def delete_by_ids(self, ids: Sequence[str]) -> int:
        self.calls.append(("delete", len(ids)))
        if len(ids) > 100:
            raise VectorizeLimitError("deleteByIds takes at most 100 ids (40007)")
        self._mutate("delete", list(ids))
        return len(ids)

    def ids_for(self, predicate: Any) -> list[str]:
        return sorted(v.id for v in self.vectors.values() if predicate(v.metadata))


@dataclass
class FakeQueue:
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, body: Mapping[str, Any]) -> None:
        self.sent.append(json.loads(json.dumps(dict(body))))  # what crosses the wire is JSON

    def take(self) -> list[dict[str, Any]]:
        out, self.sent = self.sent, []
        return out


class HashingAi:
    """Workers AI for embedding models, backed by the hashing embedder."""

    def __init__(self, dimensions: int = 384) -> None:
        self.embedder = HashingEmbedder()
        self.dimensions = dimensions
        self.calls: list[int] = []
        self.fail_next: list[Exception] = []

    async def run(self, model: str, inputs: Mapping[str, Any]) -> Any:
        texts = inputs["text"]
        assert isinstance(texts, list) and len(texts) <= 100, "Workers AI: at most 100 texts per call"
        self.calls.append(len(texts))
        if self.fail_next:
            raise self.fail_next.pop(0)
        data = self.embedder.embed(texts, self.dimensions)
        return {"shape": [len(data), self.dimensions], "data": data}
