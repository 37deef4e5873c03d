"""Document ids, tenants, and the names derived from them (R2 keys, Vectorize ids and namespaces)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from ..web.errors import ApiError, bad_request

MAX_DOC_ID_CHARS = 256
_DOC_ID = re.compile(r"^[A-Za-z0-9._/-]{1,256}$")
# A virtual key's scope, as the stack file allows it (infra.spec.base.TENANT_SCOPE_RE): no '/', so
# no tenant's `<tenant>/` prefix can contain another's.
TENANT_SCOPE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_VECTOR_ID_BYTES = 64  # Vectorize's limit
MAX_NAMESPACE_BYTES = 64  # Vectorize's limit


def check_doc_id(doc_id: str) -> str:
    """`doc_id` if it is 1-256 characters of [A-Za-z0-9._/-] without `..`; else a 400 naming `id`."""
    if not _DOC_ID.match(doc_id):
        shown = doc_id if len(doc_id) <= 80 else doc_id[:77] + "..."
        raise bad_request(
            f"document id {shown!r} must be 1-{MAX_DOC_ID_CHARS} characters from [A-Za-z0-9._/-]", "id"
        )
    if ".." in doc_id:
        raise bad_request(f"document id {doc_id!r} must not contain '..'", "id")
    return doc_id


def check_tenant(tenant: str) -> str:
    """`tenant` if it is a valid scope; else a 403 (a stack shipped before validate refused '/')."""
    if not TENANT_SCOPE.match(tenant):
        raise ApiError(
            403,
            "permission",
            f"this key's scope {tenant[:80]!r} cannot hold documents: a scope is 1-64 of [A-Za-z0-9._-]",
            param="scope",
        )
    return tenant


def builtin_metadata(doc_id: str, updated_at: str) -> dict[str, str | int]:
    """What every chunk carries besides the document's own metadata, as Cloudflare AI Search does:
    `folder` (the id up to its last `/`, with it; "" at the top), `filename` (the rest) and
    `updated_at` (Unix seconds of the catalogue's ISO `updated_at`)."""
    folder, _, filename = doc_id.rpartition("/")
    seconds = int(datetime.fromisoformat(updated_at).timestamp())
    return {"folder": folder + "/" if folder else "", "filename": filename, "updated_at": seconds}


def object_key(tenant: str, doc_id: str) -> str:
    """Where the original lives in R2: `<tenant>/<id>`."""
    return f"{tenant}/{doc_id}"


def split_object_key(key: str) -> tuple[str, str] | None:
    """(tenant, doc_id) of an R2 key written as `<tenant>/<id>`, or None when the tenant part is not
    a valid scope or the id is not a valid document id (an R2 event for a foreign object)."""
    tenant, _, doc_id = key.partition("/")
    if not TENANT_SCOPE.match(tenant) or not _DOC_ID.match(doc_id) or ".." in doc_id:
        return None
    return tenant, doc_id


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def namespace(tenant: str) -> str:
    """The tenant's Vectorize namespace: the tenant itself when it fits in 64 bytes, else a hash."""
    if len(tenant.encode()) <= MAX_NAMESPACE_BYTES:
        return tenant
    return "t-" + _digest("namespace", tenant)[:40]


def vector_id(tenant: str, doc_id: str, chunk: int) -> str:
    """`<40 hex of sha256(tenant, id)>:<chunk>`: at most 64 bytes whatever the id's length."""
    return f"{_digest(tenant, doc_id)[:40]}:{chunk}"


def vector_ids(tenant: str, doc_id: str, start: int, stop: int) -> list[str]:
    return [vector_id(tenant, doc_id, n) for n in range(start, stop)]
