"""The Worker's queue consumer: RAG ingestion batches and R2 event notifications.

R2 event notification messages (https://developers.cloudflare.com/r2/buckets/event-notifications/)
carry `{"account", "bucket", "action", "object": {"key", "size", "eTag"}, "eventTime", ...}` with
`action` one of PutObject, CopyObject, CompleteMultipartUpload, DeleteObject, LifecycleDeletion.
Objects under `<tenant>/<id>` are indexed (or removed from the index) for that tenant; objects this
Worker wrote itself (their sha256 custom metadata matches the catalogue) are skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from ..services import Services
from ..web.errors import ApiError
from . import catalog
from .corpus import Corpus, corpus_for
from .ids import split_object_key
from .ingest import IngestMessage, ingest_batch, purge_index, put_document

FINAL_ATTEMPT = 3
WRITE_ACTIONS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})
DELETE_ACTIONS = frozenset({"DeleteObject", "LifecycleDeletion"})
QueueMessage = tuple[Any, int, Callable[[], None], Callable[[], None]]


def _log(event: str, **fields: Any) -> None:
    print(json.dumps({"rag": event, **fields}, default=str, separators=(",", ":")))


async def on_bucket_event(corpus: Corpus, body: dict[str, Any]) -> None:
    action = body.get("action")
    key = (body.get("object") or {}).get("key")
    parts = split_object_key(key) if isinstance(key, str) else None
    if parts is None:
        _log("rag_event_skipped", key=key, reason="not <tenant scope>/<document id>")
        return
    tenant, doc_id = parts
    record = await catalog.get(corpus.catalog, tenant, doc_id)
    if action in DELETE_ACTIONS:
        if record is not None:
            await purge_index(corpus, record)
            await corpus.catalog.batch(
                [catalog.delete_statement(tenant, doc_id), catalog.bump_version_statement(tenant)]
            )
        return
    if action not in WRITE_ACTIONS:
        return
    stored = await corpus.bucket.get_object(key)  # type: ignore[arg-type]
    if stored is None:
        return
    data, info = stored
    if record is not None and hashlib.sha256(data).hexdigest() == record.sha256:
        return  # written by this Worker's PUT (or already indexed)
    title = info.custom_metadata.get("title", "")
    try:
        await put_document(corpus, tenant, doc_id, data, info.content_type, title, store_original=False)
    except ApiError as error:
        if error.status >= 500:
            raise
        _log("rag_event_rejected", key=key, status=error.status, reason=error.message)


def _is_rag_message(body: Any) -> bool:
    return isinstance(body, dict) and (
        body.get("type") == "rag.ingest" or ("action" in body and "object" in body)
    )


async def consume(messages: Sequence[QueueMessage], services: Services) -> None:
    """Handle one delivered batch: ack what was handled (or is not for RAG), retry what failed."""
    try:
        corpus = corpus_for(services)
    except ApiError as error:  # RAG not (correctly) configured: keep RAG messages, drop the rest
        _log("queue_batch_unhandled", reason=error.message, messages=len(messages))
        for body, _, ack, retry in messages:
            (retry if _is_rag_message(body) else ack)()
        return
    for body, attempts, ack, retry in messages:
        try:
            if isinstance(body, dict) and body.get("type") == "rag.ingest":
                message = IngestMessage(
                    str(body["tenant"]), str(body["doc_id"]), str(body["sha256"]), int(body["start"])
                )
                await ingest_batch(corpus, message, final_attempt=attempts >= FINAL_ATTEMPT)
            elif isinstance(body, dict) and "action" in body and "object" in body:
                await on_bucket_event(corpus, body)
            else:
                _log("queue_message_ignored", reason="not a RAG message")
            ack()
        except Exception as error:
            _log(
                "queue_message_failed", error=type(error).__name__, detail=str(error)[:300], attempts=attempts
            )
            retry()
