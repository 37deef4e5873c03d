"""The document catalogue and per-tenant corpus versions in D1 (migration 0005_rag_catalog.sql)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

from ..bindings import D1Database

Status = Literal["indexing", "ready", "failed"]
Statement = tuple[str, Sequence[Any]]


class DocumentRecord(NamedTuple):
    tenant: str
    doc_id: str
    title: str
    status: Status
    chunks: int
    vector_slots: int
    sha256: str
    bytes: int
    content_type: str
    metadata: dict[str, Any]
    updated_at: str
    reason: str | None = None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.doc_id,
            "title": self.title,
            "status": self.status,
            "chunks": self.chunks,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "content_type": self.content_type,
            "updated_at": self.updated_at,
            "metadata": self.metadata,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


_COLUMNS = "tenant, doc_id, title, status, chunks, vector_slots, sha256, bytes, content_type, metadata, updated_at, reason"


def _record(row: dict[str, Any]) -> DocumentRecord:
    return DocumentRecord(
        tenant=row["tenant"],
        doc_id=row["doc_id"],
        title=row["title"],
        status=row["status"],
        chunks=int(row["chunks"]),
        vector_slots=int(row["vector_slots"]),
        sha256=row["sha256"],
        bytes=int(row["bytes"]),
        content_type=row["content_type"],
        metadata=json.loads(row["metadata"] or "{}"),
        updated_at=row["updated_at"],
        reason=row.get("reason"),
    )


async def get(db: D1Database, tenant: str, doc_id: str) -> DocumentRecord | None:
    rows = await db.execute(
        f"SELECT {_COLUMNS} FROM rag_documents WHERE tenant = ? AND doc_id = ?", (tenant, doc_id)
    )
    return _record(rows[0]) if rows else None


async def list_documents(
    db: D1Database, tenant: str, prefix: str, limit: int, after: str | None
) -> list[DocumentRecord]:
    """Documents whose id starts with `prefix`, in id order, after the id `after`."""
    sql = f"SELECT {_COLUMNS} FROM rag_documents WHERE tenant = ? AND substr(doc_id, 1, ?) = ?"
    params: list[Any] = [tenant, len(prefix), prefix]
    if after is not None:
        sql += " AND doc_id > ?"
        params.append(after)
    rows = await db.execute(sql + " ORDER BY doc_id LIMIT ?", (*params, limit))
    return [_record(row) for row in rows]


def upsert_statement(record: DocumentRecord) -> Statement:
    return (
        f"INSERT INTO rag_documents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (tenant, doc_id) DO UPDATE SET title = excluded.title, status = excluded.status, "
        "chunks = excluded.chunks, vector_slots = excluded.vector_slots, sha256 = excluded.sha256, "
        "bytes = excluded.bytes, content_type = excluded.content_type, metadata = excluded.metadata, "
        "updated_at = excluded.updated_at, reason = excluded.reason",
        (
            record.tenant,
            record.doc_id,
            record.title,
            record.status,
            record.chunks,
            record.vector_slots,
            record.sha256,
            record.bytes,
            record.content_type,
            json.dumps(record.metadata, sort_keys=True, separators=(",", ":")),
            record.updated_at,
            record.reason,
        ),
    )


def delete_statement(tenant: str, doc_id: str) -> Statement:
    return "DELETE FROM rag_documents WHERE tenant = ? AND doc_id = ?", (tenant, doc_id)


def bump_version_statement(tenant: str) -> Statement:
    """+1 on the tenant's corpus version: every document change runs this in the same batch."""
    return (
        "INSERT INTO rag_corpus (tenant, version) VALUES (?, 1) "
        "ON CONFLICT (tenant) DO UPDATE SET version = version + 1",
        (tenant,),
    )


async def corpus_version(db: D1Database, tenant: str) -> int:
    rows = await db.execute("SELECT version FROM rag_corpus WHERE tenant = ?", (tenant,))
    return int(rows[0]["version"]) if rows else 0
