"""`app.demo` on CPython with in-memory bindings (no host): what /demo reports, and the Durable
Object side counting visits in both storage APIs."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "worker_src", REPO / "tests"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from app.agents.protocol import object_name  # noqa: E402
from app.bindings import R2ObjectInfo, Vector, VectorMatch, VectorQuery  # noqa: E402
from app.config import BuildInfo  # noqa: E402
from app.demo import demo, demo_vector, handle_object_request  # noqa: E402
from app.http import HttpRequest  # noqa: E402
from app.services import Services  # noqa: E402
from harness.bindings import InMemoryKv, SqliteD1  # noqa: E402
from harness.planned import planned_config, runtime_config  # noqa: E402


class MemoryR2:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def get_object(self, key: str) -> tuple[bytes, R2ObjectInfo] | None:
        data = self.objects.get(key)
        return None if data is None else (data, R2ObjectInfo(key, len(data)))

    async def put_object(
        self, key: str, data: bytes, content_type: str, custom_metadata: Mapping[str, str]
    ) -> None:
        self.objects[key] = data

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class ExactIndex:
    def __init__(self) -> None:
        self.vectors: dict[str, Vector] = {}

    async def upsert(self, vectors: list[Vector]) -> int:
        self.vectors.update({v.id: v for v in vectors})
        return len(vectors)

    async def query(self, vector: list[float], options: VectorQuery) -> list[VectorMatch]:
        scored = [
            VectorMatch(v.id, sum(a * b for a, b in zip(vector, v.values, strict=True)))
            for v in self.vectors.values()
        ]
        return sorted(scored, key=lambda m: -m.score)[: options.top_k]


class SqliteObjectStorage:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.db = sqlite3.connect(":memory:")
        self.db.row_factory = sqlite3.Row

    async def get(self, key: str) -> Any:
        return self.values.get(key)

    async def put(self, key: str, value: Any) -> None:
        self.values[key] = value

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute(query, params).fetchall()]


class InProcessObjects:
    def __init__(self) -> None:
        self.storages: dict[str, SqliteObjectStorage] = {}

    async def fetch(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, bytes]:
        storage = self.storages.setdefault(name, SqliteObjectStorage())
        request = HttpRequest(method=method, url=f"https://do.internal{path}", headers={})
        response = await handle_object_request(request, storage)
        return response.status, response.body


def _services() -> Services:
    async def sleep(_: float) -> None:
        return None

    return Services(
        build=BuildInfo(stack="test", bundle_version="v"),
        config=runtime_config(
            planned_config(
                {"gateway": {"cache_binding": "CACHE"}, "agents": {"state_binding": "AGENT", "history_binding": "DB"}}
            )
        ),
        fetch=None,  # type: ignore[arg-type]
        wait_until=lambda work: None,
        clock=lambda: 0.0,
        sleep=sleep,
        kv={"OTHER": InMemoryKv(), "CACHE": InMemoryKv()},
        d1={"DB": SqliteD1()},
        r2={"DOCS": MemoryR2()},
        vectorize={"VECTORS": ExactIndex()},
    )


def test_demo_reports_every_backend_and_counts_visits() -> None:
    services, objects = _services(), InProcessObjects()
    request = HttpRequest(method="GET", url="http://local/demo?name=ada", headers={})

    async def twice() -> tuple[dict[str, Any], dict[str, Any]]:
        first = json.loads((await demo(request, services, objects, dimensions=8)).body)
        second = json.loads((await demo(request, services, objects, dimensions=8)).body)
        return first, second

    first, second = asyncio.run(twice())
    assert first["kv"] == {"binding": "CACHE", "previous_visitor": None, "stored": "ada"}
    assert second["kv"]["previous_visitor"] == "ada"
    assert first["d1"]["echo"] == "ada" and first["d1"]["null_parameter_is_null"] is True
    assert first["d1"]["migrations"] == []
    assert first["r2"] == {
        "binding": "DOCS",
        "key": "demo/ada.txt",
        "read_back": "hello ada",
    }
    assert (first["durable_object"]["visits"], second["durable_object"]["visits"]) == (1, 2)
    assert second["durable_object"]["sql_rows"] == 2
    assert first["vectorize"]["top_match"] == first["vectorize"]["upserted"]


def test_demo_vector_is_deterministic_and_unit_length() -> None:
    a, b = demo_vector("x", 384), demo_vector("x", 384)
    assert a == b and len(a) == 384
    assert abs(sum(v * v for v in a) - 1.0) < 1e-9
    assert demo_vector("y", 384) != a


def test_object_side_rejects_other_paths() -> None:
    request = HttpRequest(method="GET", url="https://do.internal/demo/visit", headers={})
    response = asyncio.run(handle_object_request(request, SqliteObjectStorage()))
    assert response.status == 404


def test_a_demo_name_can_never_address_an_agents_object() -> None:
    """`?name=` is the caller's: spelled like an agent's object name, it still names a demo object."""
    victim = object_name("tenant-a", "victim")
    services, objects = _services(), InProcessObjects()
    request = HttpRequest(method="GET", url=f"http://local/demo?name={victim}", headers={})
    report = json.loads(asyncio.run(demo(request, services, objects, dimensions=8)).body)
    assert list(objects.storages) == ['demo:["agent","tenant-a","victim"]']
    assert report["durable_object"]["object"] != victim
