"""Chunk vectors in Vectorize: one namespace per tenant, batched writes within the binding's limits.

Limits (https://developers.cloudflare.com/vectorize/platform/limits/): upserts of at most 1000
vectors from a Worker, ids of at most 64 bytes, 10 KiB of metadata per vector, topK of at most 20
with `returnMetadata: "all"`; `deleteByIds` takes at most 100 ids per call (what projects report).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..bindings import Vector, VectorizeIndex, VectorQuery
from .chunking import Chunk
from .filters import TENANT_KEY, Filter
from .ids import namespace, vector_id, vector_ids

UPSERT_BATCH = 1000
DELETE_BATCH = 100
MAX_TOP_K_WITH_METADATA = 20
MAX_METADATA_BYTES = 10 * 1024
MAX_TITLE_BYTES_IN_METADATA = 1024


class VectorHit(NamedTuple):
    doc_id: str
    chunk: int
    title: str
    score: float


def chunk_metadata(
    tenant: str, doc_id: str, chunk: int, title: str, user: Mapping[str, Any]
) -> dict[str, Any]:
    title_bytes = title.encode()[:MAX_TITLE_BYTES_IN_METADATA]
    metadata = {
        **user,
        TENANT_KEY: tenant,
        "doc_id": doc_id,
        "chunk": chunk,
        "title": title_bytes.decode("utf-8", "ignore"),
    }
    if len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
        raise ValueError("vector metadata over 10 KiB")  # unreachable: inputs are bounded upstream
    return metadata


def build_vectors(
    tenant: str,
    doc_id: str,
    title: str,
    chunks: Sequence[Chunk],
    values: Sequence[Sequence[float]],
    user_metadata: Mapping[str, Any],
) -> list[Vector]:
    space = namespace(tenant)
    return [
        Vector(
            id=vector_id(tenant, doc_id, chunk.index),
            values=list(vector),
            metadata=chunk_metadata(tenant, doc_id, chunk.index, title, user_metadata),
            namespace=space,
        )
        for chunk, vector in zip(chunks, values, strict=True)
    ]


async def upsert(index: VectorizeIndex, vectors: Sequence[Vector]) -> None:
    for start in range(0, len(vectors), UPSERT_BATCH):
        await index.upsert(vectors[start : start + UPSERT_BATCH])


async def delete_range(index: VectorizeIndex, tenant: str, doc_id: str, start: int, stop: int) -> None:
    """Delete the vectors of chunks start..stop-1 (ids are deterministic, so none is missed)."""
    ids = vector_ids(tenant, doc_id, start, stop)
    for offset in range(0, len(ids), DELETE_BATCH):
        await index.delete_by_ids(ids[offset : offset + DELETE_BATCH])


async def query(
    index: VectorizeIndex, tenant: str, vector: Sequence[float], top_k: int, where: Filter
) -> list[VectorHit]:
    matches = await index.query(
        vector,
        VectorQuery(
            top_k=min(top_k, MAX_TOP_K_WITH_METADATA),
            return_metadata="all",
            namespace=namespace(tenant),
            filter=where.to_vectorize(tenant),
        ),
    )
    hits = []
    for match in matches:
        meta = match.metadata or {}
        if meta.get(TENANT_KEY) != tenant:  # defence in depth: never return another tenant's chunk
            continue
        hits.append(
            VectorHit(
                str(meta.get("doc_id", "")),
                int(meta.get("chunk", 0)),
                str(meta.get("title", "")),
                match.score,
            )
        )
    return hits
