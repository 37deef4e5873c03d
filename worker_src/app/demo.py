"""GET /demo: one request that touches every local backend (KV, D1, R2, a Durable Object,
Vectorize) and reports what each returned, so a newcomer can see the stack work end to end.

`?name=` (default "world") keys every write, so repeated calls show state persisting. It writes
tenant-`demo` data without a key, so the router serves it only when the stack file sets
`worker.demo_route: true` (stacks/local.yaml does; policy refuses it on prod).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

from .bindings import Vector, VectorQuery
from .config import ConfigError, RuntimeConfig
from .http import HttpRequest, HttpResponse
from .services import DurableObjectNamespace, Services

T = TypeVar("T")
MAX_NAME = 64
DEFAULT_STATE_BINDING = "AGENT"
# The demo shares the agents' Durable Object namespace. Agents' object names are JSON arrays
# (`agents.protocol.object_name`, always starting with '['), so a prefixed demo name can never
# address an agent's object, whatever `?name=` says.
DEMO_OBJECT_PREFIX = "demo:"


def demo_object_name(name: str) -> str:
    return DEMO_OBJECT_PREFIX + name


class ObjectStorage(Protocol):
    async def get(self, key: str) -> Any: ...
    async def put(self, key: str, value: Any) -> None: ...
    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]: ...


def _pick(bindings: Mapping[str, Any], preferred: str | None) -> str | None:
    if preferred and preferred in bindings:
        return preferred
    return next(iter(bindings), None)


class _Named(NamedTuple):
    """The bindings the stack's parsed sections name; None where a section is absent or unusable."""

    cache: str | None = None
    history: str | None = None
    documents: str | None = None
    index: str | None = None
    state: str | None = None


def _named(config: RuntimeConfig) -> _Named:
    from .agents.config import agents_config
    from .gateway.state import ISOLATE
    from .rag.config import CONFIG as RAG

    def section(cache: Callable[[RuntimeConfig], T | None]) -> T | None:
        try:
            return cache(config)
        except ConfigError:
            return None

    gateway, agents, rag = section(ISOLATE.config.get), section(agents_config), section(RAG.get)
    return _Named(
        cache=gateway.cache_binding if gateway else None,
        history=agents.history_binding if agents else None,
        documents=rag.documents_binding if rag else None,
        index=rag.index_binding if rag else None,
        state=agents.state_binding if agents else None,
    )


def demo_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text` (a stand-in for an embedding)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{text}:{counter}".encode()).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        counter += 1
    values = values[:dimensions]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


async def demo(
    request: HttpRequest, services: Services, objects: DurableObjectNamespace | None, dimensions: int = 384
) -> HttpResponse:
    name = request.query.get("name", "world")[:MAX_NAME] or "world"
    named = _named(services.config)
    report: dict[str, Any] = {"name": name}

    kv_name = _pick(services.kv, named.cache)
    if kv_name:
        kv = services.kv[kv_name]
        previous = await kv.get("demo:last-visitor")
        await kv.put("demo:last-visitor", name)
        report["kv"] = {
            "binding": kv_name,
            "previous_visitor": previous,
            "stored": await kv.get("demo:last-visitor"),
        }

    db_name = _pick(services.d1, named.history)
    if db_name:
        db = services.d1[db_name]
        rows = await db.execute("SELECT ?1 AS echo, ?2 AS absent, typeof(?2) AS absent_type", [name, None])
        tables = await db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'd1_migrations'"
        )
        migrations = await db.execute("SELECT name FROM d1_migrations ORDER BY id") if tables else []
        report["d1"] = {
            "binding": db_name,
            "echo": rows[0]["echo"],
            "null_parameter_is_null": rows[0]["absent"] is None,
            "absent_sql_type": rows[0]["absent_type"],
            "migrations": [row["name"] for row in migrations],
        }

    bucket_name = _pick(services.r2, named.documents)
    if bucket_name:
        bucket = services.r2[bucket_name]
        key = f"demo/{name}.txt"
        await bucket.put_object(key, f"hello {name}".encode(), "text/plain", {})
        stored = await bucket.get_object(key)
        report["r2"] = {
            "binding": bucket_name,
            "key": key,
            "read_back": stored[0].decode() if stored is not None else None,
        }

    if objects is not None:
        object_name = demo_object_name(name)
        status, body = await objects.fetch(object_name, "/demo/visit", method="POST")
        report["durable_object"] = {"object": object_name, "status": status, **json.loads(body or b"{}")}

    index_name = _pick(services.vectorize, named.index)
    if index_name:
        index = services.vectorize[index_name]
        vector_id = f"demo-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
        values = demo_vector(name, dimensions)
        await index.upsert([Vector(id=vector_id, values=values, metadata={"tenant": "demo", "name": name})])
        matches = await index.query(values, VectorQuery(top_k=1, return_metadata="all"))
        report["vectorize"] = {
            "binding": index_name,
            "upserted": vector_id,
            "top_match": matches[0].id if matches else None,
            "score": round(matches[0].score, 4) if matches else None,
        }
    return HttpResponse.json(report)


def demo_objects(services: Services) -> DurableObjectNamespace | None:
    """The namespace /demo visits: the agents' state binding (`agents.state_binding`, default AGENT)."""
    return services.durable_objects.get(_named(services.config).state or DEFAULT_STATE_BINDING)


async def handle_object_request(request: HttpRequest, storage: ObjectStorage) -> HttpResponse:
    """The Durable Object side of /demo: count visits, in the key-value API and in SQL."""
    if request.path != "/demo/visit" or request.method != "POST":
        return HttpResponse.json(
            {"error": {"message": f"no route for {request.method} {request.path}"}}, status=404
        )
    visits = int(await storage.get("demo:visits") or 0) + 1
    await storage.put("demo:visits", visits)
    storage.sql("CREATE TABLE IF NOT EXISTS demo_visits (n INTEGER PRIMARY KEY, at TEXT NOT NULL)")
    storage.sql("INSERT INTO demo_visits (n, at) VALUES (?, datetime('now'))", visits)
    rows = storage.sql("SELECT COUNT(*) AS n FROM demo_visits")[0]["n"]
    return HttpResponse.json({"visits": visits, "sql_rows": rows})
