"""The keyword index: chunk rows plus an FTS5 index over them in D1, ranked with `bm25()`.

Schema: stacks/migrations/keywords/0001_rag_keyword_index.sql (its own D1 database, see docs/rag.md).
Every query is scoped to the tenant; metadata filters compile to SQL over the rows' JSON metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..bindings import D1Database
from .chunking import Chunk
from .filters import Filter

Statement = tuple[str, Sequence[Any]]
_TERM = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32
# Very common English words: they carry no signal for bm25 and make OR queries slow.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
        "my",
        "me",
        "we",
        "our",
    ]
)


class KeywordHit(NamedTuple):
    doc_id: str
    chunk: int
    title: str
    heading: str
    text: str
    score: float  # -bm25: higher is better


def match_expression(query: str) -> str | None:
    """An FTS5 MATCH expression: the query's distinct terms, quoted, OR-ed (None when none are left)."""
    terms: list[str] = []
    for term in _TERM.findall(query.casefold()):
        if term not in STOPWORDS and term not in terms:
            terms.append(term)
    if not terms:
        terms = list(dict.fromkeys(_TERM.findall(query.casefold())))
    terms = terms[:MAX_QUERY_TERMS]
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def delete_statements(tenant: str, doc_id: str) -> list[Statement]:
    return [("DELETE FROM rag_chunk_rows WHERE tenant = ? AND doc_id = ?", (tenant, doc_id))]


def delete_from_statement(tenant: str, doc_id: str, first_chunk: int) -> Statement:
    return (
        "DELETE FROM rag_chunk_rows WHERE tenant = ? AND doc_id = ? AND chunk >= ?",
        (tenant, doc_id, first_chunk),
    )


def replace_statements(
    tenant: str, doc_id: str, title: str, chunks: Sequence[Chunk], metadata: Mapping[str, Any]
) -> list[Statement]:
    """Replace the rows of these chunks (a contiguous run): one range delete, then one insert per
    chunk (the FTS triggers keep the index in step). len(chunks) + 1 statements, 7 parameters each."""
    if not chunks:
        return []
    meta = json.dumps(dict(metadata), sort_keys=True, separators=(",", ":"))
    first, last = chunks[0].index, chunks[-1].index
    out: list[Statement] = [
        (
            "DELETE FROM rag_chunk_rows WHERE tenant = ? AND doc_id = ? AND chunk BETWEEN ? AND ?",
            (tenant, doc_id, first, last),
        )
    ]
    for chunk in chunks:
        out.append(
            (
                "INSERT INTO rag_chunk_rows (tenant, doc_id, chunk, title, heading, text, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tenant, doc_id, chunk.index, title, chunk.heading, chunk.text, meta),
            )
        )
    return out


async def search(db: D1Database, tenant: str, query: str, top_k: int, where: Filter) -> list[KeywordHit]:
    expression = match_expression(query)
    if expression is None:
        return []
    filter_sql, filter_params = where.to_sql("r.metadata")
    rows = await db.execute(
        "SELECT r.doc_id, r.chunk, r.title, r.heading, r.text, bm25(rag_chunks_fts, 2.0, 1.5, 1.0) AS rank "
        "FROM rag_chunks_fts JOIN rag_chunk_rows r ON r.id = rag_chunks_fts.rowid "
        f"WHERE rag_chunks_fts MATCH ? AND r.tenant = ?{filter_sql} ORDER BY rank LIMIT ?",
        (expression, tenant, *filter_params, top_k),
    )
    return [
        KeywordHit(
            row["doc_id"], int(row["chunk"]), row["title"], row["heading"], row["text"], -float(row["rank"])
        )
        for row in rows
    ]


async def chunk_rows(
    db: D1Database, tenant: str, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], KeywordHit]:
    """The stored text of chunks found by vector search, by (doc_id, chunk)."""
    out: dict[tuple[str, int], KeywordHit] = {}
    for start in range(0, len(keys), 40):  # D1: at most 100 bound parameters per statement
        part = keys[start : start + 40]
        pairs = " OR ".join("(doc_id = ? AND chunk = ?)" for _ in part)
        params: list[Any] = [tenant]
        for doc_id, chunk in part:
            params.extend([doc_id, chunk])
        rows = await db.execute(
            f"SELECT doc_id, chunk, title, heading, text FROM rag_chunk_rows WHERE tenant = ? AND ({pairs})",
            params,
        )
        for row in rows:
            key = (row["doc_id"], int(row["chunk"]))
            out[key] = KeywordHit(
                row["doc_id"], int(row["chunk"]), row["title"], row["heading"], row["text"], 0.0
            )
    return out


async def row_count(db: D1Database, tenant: str, doc_id: str) -> int:
    rows = await db.execute(
        "SELECT count(*) AS n FROM rag_chunk_rows WHERE tenant = ? AND doc_id = ?", (tenant, doc_id)
    )
    return int(rows[0]["n"]) if rows else 0
