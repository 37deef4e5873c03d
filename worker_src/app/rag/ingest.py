"""Putting and deleting documents: R2 original, keyword rows, vectors, catalogue, corpus version.

Order of writes for an inline PUT (nothing is written before the embeddings are computed):
1. catalogue row `indexing` with `vector_slots = max(old, new)`, so every vector id that may exist
   is known even if the Worker dies mid-way;
2. the R2 original with sha256/title/content type/chunks as custom metadata;
3. the keyword rows (one atomic D1 batch: new rows in, rows past the new chunk count out);
4. the vectors (upserts of <= 1000), then deletes of vectors past the new chunk count (<= 100 ids);
5. catalogue row `ready` with `vector_slots = chunks`, plus the corpus-version bump, in one batch.
If 2-5 fail, the document's index entries are purged and the row says `failed` with the reason.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..web.errors import ApiError
from . import catalog, keyword, vectors
from .catalog import DocumentRecord
from .chunking import Chunk, chunk_document
from .convert import read_document
from .corpus import Corpus
from .embedding import embed_texts
from .ids import builtin_metadata, check_doc_id, object_key
from .textio import DocumentBody

EMBED_BATCH = 100  # chunks embedded per queue message: one Workers AI call
# Above this many chunks a document goes through the queue whatever its size: one invocation may run
# at most 1000 D1 queries (a batch of n chunks is n + 1 statements) and has a CPU limit.
MAX_INLINE_CHUNKS = 2 * EMBED_BATCH


class PutResult(NamedTuple):
    doc_id: str
    status: str  # ready | indexing | unchanged
    chunks: int
    sha256: str

    def public(self) -> dict[str, Any]:
        return {"id": self.doc_id, "status": self.status, "chunks": self.chunks, "sha256": self.sha256}


def now_iso(corpus: Corpus) -> str:
    return (
        datetime.fromtimestamp(corpus.clock(), tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def check_size(corpus: Corpus, size: int) -> None:
    limit = corpus.config.max_document_bytes
    if size > limit:
        raise ApiError(
            413,
            "request_too_large",
            f"the document is {size} bytes; rag.max_document_bytes is {limit}",
            param="body",
        )


def chunks_of(corpus: Corpus, document: DocumentBody) -> list[Chunk]:
    config = corpus.config
    return chunk_document(document.text, config.chunk_chars, config.chunk_overlap, document.title)


async def put_document(
    corpus: Corpus,
    tenant: str,
    doc_id: str,
    data: bytes,
    content_type: str,
    header_title: str = "",
    *,
    store_original: bool = True,
) -> PutResult:
    """Index one document. `store_original=False` when the bytes already are in R2 (ingest on upload)."""
    check_doc_id(doc_id)
    check_size(corpus, len(data))
    document = await read_document(corpus.ai, doc_id, data, content_type, header_title)
    sha = hashlib.sha256(data).hexdigest()
    existing = await catalog.get(corpus.catalog, tenant, doc_id)
    if (
        existing is not None
        and existing.sha256 == sha
        and existing.title == document.title
        and existing.metadata == document.metadata
        and existing.status in ("ready", "indexing")
    ):
        return PutResult(doc_id, "unchanged", existing.chunks, sha)
    chunks = chunks_of(corpus, document)
    old_slots = existing.vector_slots if existing else 0
    record = DocumentRecord(
        tenant=tenant,
        doc_id=doc_id,
        title=document.title,
        status="indexing",
        chunks=len(chunks),
        vector_slots=max(old_slots, len(chunks)),
        sha256=sha,
        bytes=len(data),
        content_type=document.content_type,
        metadata=document.metadata,
        updated_at=now_iso(corpus),
    )
    too_big = len(data) > corpus.config.inline_max_bytes or len(chunks) > MAX_INLINE_CHUNKS
    if corpus.queue is not None and too_big:
        return await _enqueue(corpus, record, data, chunks, store_original)
    embeddings = await embed_texts(
        corpus.ai,
        corpus.config.embedding_model,
        [c.embedding_text(document.title) for c in chunks],
        corpus.sleep,
    )
    await corpus.catalog.batch([catalog.upsert_statement(record)])
    indexed = indexed_metadata(record)
    try:
        if store_original:
            await _store_original(corpus, record, data)
        await corpus.keywords.batch(
            [
                *keyword.replace_statements(tenant, doc_id, document.title, chunks, indexed),
                keyword.delete_from_statement(tenant, doc_id, len(chunks)),
            ]
        )
        await vectors.upsert(
            corpus.index, vectors.build_vectors(tenant, doc_id, document.title, chunks, embeddings, indexed)
        )
        await vectors.delete_range(corpus.index, tenant, doc_id, len(chunks), old_slots)
        ready = record._replace(status="ready", vector_slots=len(chunks))
        await corpus.catalog.batch([catalog.upsert_statement(ready), catalog.bump_version_statement(tenant)])
    except Exception as error:
        await _fail(corpus, record, f"{type(error).__name__}: {str(error)[:200]}")
        raise ApiError(502, "upstream", f"indexing {doc_id!r} failed: {str(error)[:200]}") from None
    return PutResult(doc_id, "ready", len(chunks), sha)


def indexed_metadata(record: DocumentRecord) -> dict[str, Any]:
    """The metadata of every chunk: the document's own plus folder, filename and updated_at."""
    return {**record.metadata, **builtin_metadata(record.doc_id, record.updated_at)}


async def _store_original(corpus: Corpus, record: DocumentRecord, data: bytes) -> None:
    await corpus.bucket.put_object(
        object_key(record.tenant, record.doc_id),
        data,
        record.content_type,
        {
            "sha256": record.sha256,
            "title": record.title,
            "content_type": record.content_type,
            "chunks": str(record.chunks),
        },
    )


async def purge_index(corpus: Corpus, record: DocumentRecord) -> None:
    """Remove every keyword row and every vector the document may have."""
    await corpus.keywords.batch(keyword.delete_statements(record.tenant, record.doc_id))
    await vectors.delete_range(corpus.index, record.tenant, record.doc_id, 0, record.vector_slots)


async def _fail(corpus: Corpus, record: DocumentRecord, reason: str) -> None:
    """Purge what was written and record the reason; best effort (the first failure is what's reported)."""
    try:
        await purge_index(corpus, record)
        failed = record._replace(status="failed", reason=reason[:500], vector_slots=0, chunks=0)
        await corpus.catalog.batch(
            [catalog.upsert_statement(failed), catalog.bump_version_statement(record.tenant)]
        )
    except Exception:  # the row keeps status indexing and its vector_slots: a later PUT or DELETE cleans up
        return


async def delete_document(corpus: Corpus, tenant: str, doc_id: str) -> None:
    check_doc_id(doc_id)
    record = await catalog.get(corpus.catalog, tenant, doc_id)
    if record is None:  # the catalogue first: never delete an R2 object the tenant has no entry for
        raise ApiError(404, "not_found", f"no document {doc_id!r}", param="id")
    await purge_index(corpus, record)
    await corpus.bucket.delete(object_key(tenant, doc_id))
    await corpus.catalog.batch(
        [catalog.delete_statement(tenant, doc_id), catalog.bump_version_statement(tenant)]
    )


# ---------------------------------------------------------------- large documents: through the queue


class IngestMessage(NamedTuple):
    tenant: str
    doc_id: str
    sha256: str
    start: int  # first chunk of the batch this message embeds

    def body(self) -> dict[str, Any]:
        return {"type": "rag.ingest", **self._asdict()}


async def _enqueue(
    corpus: Corpus, record: DocumentRecord, data: bytes, chunks: list[Chunk], store_original: bool
) -> PutResult:
    assert corpus.queue is not None
    await corpus.catalog.batch([catalog.upsert_statement(record)])
    try:
        if store_original:
            await _store_original(corpus, record, data)
        await corpus.keywords.batch(keyword.delete_statements(record.tenant, record.doc_id))
        await corpus.queue.send(IngestMessage(record.tenant, record.doc_id, record.sha256, 0).body())
    except Exception as error:
        await _fail(corpus, record, f"{type(error).__name__}: {str(error)[:200]}")
        raise ApiError(502, "upstream", f"queueing {record.doc_id!r} failed: {str(error)[:200]}") from None
    await corpus.catalog.batch([catalog.bump_version_statement(record.tenant)])
    return PutResult(record.doc_id, "indexing", len(chunks), record.sha256)


async def ingest_batch(corpus: Corpus, message: IngestMessage, final_attempt: bool) -> None:
    """Embed and write one batch of a queued document; the last batch marks it ready.

    A message for an older version of the document (its sha256 no longer in the catalogue) is
    dropped. On the final delivery attempt a failure marks the document failed (purged)."""
    record = await catalog.get(corpus.catalog, message.tenant, message.doc_id)
    if record is None or record.sha256 != message.sha256 or record.status != "indexing":
        return
    try:
        stored = await corpus.bucket.get_object(object_key(message.tenant, message.doc_id))
        if stored is None:
            raise ApiError(404, "not_found", "the original is no longer in R2")
        data, _info = stored
        document = await read_document(corpus.ai, record.doc_id, data, record.content_type)
        document = document._replace(title=record.title or document.title, metadata=record.metadata)
        chunks = chunks_of(corpus, document)
        batch = chunks[message.start : message.start + EMBED_BATCH]
        values = await embed_texts(
            corpus.ai,
            corpus.config.embedding_model,
            [c.embedding_text(document.title) for c in batch],
            corpus.sleep,
        )
        indexed = indexed_metadata(record)
        await corpus.keywords.batch(
            keyword.replace_statements(record.tenant, record.doc_id, document.title, batch, indexed)
        )
        await vectors.upsert(
            corpus.index,
            vectors.build_vectors(record.tenant, record.doc_id, document.title, batch, values, indexed),
        )
        following = message.start + EMBED_BATCH
        if following < len(chunks):
            assert corpus.queue is not None
            await corpus.queue.send(message._replace(start=following).body())
            return
        await corpus.keywords.batch(
            [keyword.delete_from_statement(record.tenant, record.doc_id, len(chunks))]
        )
        await vectors.delete_range(
            corpus.index, record.tenant, record.doc_id, len(chunks), record.vector_slots
        )
        ready = record._replace(
            status="ready", chunks=len(chunks), vector_slots=len(chunks), updated_at=now_iso(corpus)
        )
        await corpus.catalog.batch(
            [catalog.upsert_statement(ready), catalog.bump_version_statement(record.tenant)]
        )
    except Exception as error:
        if final_attempt or (isinstance(error, ApiError) and error.status < 500):
            reason = (
                error.message
                if isinstance(error, ApiError)
                else f"{type(error).__name__}: {str(error)[:200]}"
            )
            await _fail(corpus, record, reason)
            return
        raise
