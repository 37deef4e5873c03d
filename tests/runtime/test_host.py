"""The host against a test Worker written with Cloudflare's `workers` SDK: bindings behave as on
Cloudflare (Workers runtime API docs: KV, D1, R2, Durable Objects storage/alarms/ids, waitUntil),
and failures are contained."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .harness import RunningRuntime, wait_for


def test_plain_text_vars_and_secrets(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        assert client.get("/hello").text == "hello from GET"
        assert client.get("/env").json() == {"greeting": "hello", "token": "token-from-environment"}
        echo = client.post("/echo", content=b"payload").json()
    assert echo == {"method": "POST", "body": "payload", "ip": "127.0.0.1"}


def test_client_cannot_forge_cf_connecting_ip(fixture_runtime: RunningRuntime) -> None:
    """As on Cloudflare's edge (HTTP request headers docs), `cf-connecting-ip` is the TCP peer's
    address and replaces whatever the client sent; `x-forwarded-proto` is the scheme used."""
    forged = {"cf-connecting-ip": "203.0.113.9", "x-forwarded-proto": "https"}
    with fixture_runtime.client() as client:
        echo = client.post("/echo", content=b"x", headers=forged).json()
        headers = client.get("/headers", headers=forged).json()
    assert echo["ip"] == "127.0.0.1"
    assert headers["cf-connecting-ip"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"


def test_kv_round_trip(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        assert client.get("/kv/get", params={"k": "missing"}).json() == {"value": None}
        client.get("/kv/put", params={"k": "a", "v": "1"}).raise_for_status()
        assert client.get("/kv/get", params={"k": "a"}).json() == {"value": "1"}


def test_d1_uses_migrated_schema(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        assert client.get("/d1/add", params={"name": "first"}).json() == {"changes": 1}
        client.get("/d1/add", params={"name": "second", "note": "n"}).raise_for_status()
        rows = client.get("/d1/list").json()["rows"]
    assert rows[-2:] == [{"name": "first", "note": None}, {"name": "second", "note": "n"}]


def test_r2_round_trip(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        assert client.get("/r2/get", params={"k": "nope"}).json() == {"value": None}
        client.post("/r2/put", params={"k": "doc.txt"}, content="stored text").raise_for_status()
        assert client.get("/r2/get", params={"k": "doc.txt"}).json() == {"value": "stored text"}


def test_queue_messages_reach_the_queue_handler(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        assert client.get("/queue/send", params={"job": "j1"}).json() == {"sent": True}
        wait_for(lambda: client.get("/kv/get", params={"k": "job:j1"}).json() == {"value": "processed"})


def test_scheduled_route_runs_the_cron_handler(fixture_runtime: RunningRuntime) -> None:
    """wrangler dev's `/__scheduled?cron=` test route: `scheduled(controller, env, ctx)` runs once
    with the given pattern and time (Cron Triggers / scheduled handler docs); its waitUntil work counts."""
    with fixture_runtime.client() as client:
        ran = client.get("/__scheduled", params={"cron": "*/5 * * * *", "time": "1700000000000"})
        assert ran.status_code == 200
        assert ran.json() == {"outcome": "ok", "cron": "*/5 * * * *", "scheduledTime": 1700000000000}
        wait_for(lambda: client.get("/kv/get", params={"k": "cron:*/5 * * * *"}).json()["value"])
        assert client.get("/kv/get", params={"k": "cron:*/5 * * * *"}).json() == {"value": "1700000000000"}
        failed = client.get("/__scheduled", params={"cron": "boom"})
        assert failed.status_code == 500 and "RuntimeError: scheduled boom" in failed.json()["error"]
        assert client.get("/__scheduled", params={"time": "soon"}).status_code == 400
        assert client.get("/hello").status_code == 200


def test_rate_limit_binding_uses_the_stack_limit(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        outcomes = [client.get("/limit", params={"key": "k1"}).json()["success"] for _ in range(3)]
        assert outcomes == [True, True, False]  # limit: 2 per 60 s
        assert client.get("/limit", params={"key": "k2"}).json() == {"success": True}


def test_durable_object_ids(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        ids = client.get("/ids").json()
    assert len(ids["named"]) == 64 and ids["named"] == ids["named_again"]
    assert ids["unique_roundtrip"] is True
    assert "64 hex digits" in ids["bad"]
    assert "not valid for this namespace" in ids["foreign"]


def test_durable_object_storage_kv_and_sql(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        first = client.get("/do/sql", params={"name": "sql", "text": "one"}).json()
        second = client.get("/do/sql", params={"name": "sql", "text": "two"}).json()
        listed = client.get("/do/list", params={"name": "sql"}).json()
        reserved = client.get("/do/reserved", params={"name": "sql"}).json()
        other = client.get("/do/sql", params={"name": "another", "text": "x"}).json()
    assert first["rows"] == [{"id": 1, "text": "one", "data": None}] and first["count"] == 1
    assert [r["text"] for r in second["rows"]] == ["one", "two"] and second["count"] == 2
    assert other["count"] == 1  # each object has its own database
    assert listed == {"keys": ["k:a", "k:b"], "b": {"nested": [1, 2]}}
    assert "not authorized" in reserved["error"]


def test_durable_object_rpc_method(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        assert client.get("/rpc/add", params={"name": "rpc", "by": "5"}).json() == {"total": 5}
        assert client.get("/rpc/add", params={"name": "rpc", "by": "2"}).json() == {"total": 7}


def test_one_hundred_concurrent_increments_lose_no_update(fixture_runtime: RunningRuntime) -> None:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    with fixture_runtime.client(limits=limits) as shared, ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(
            pool.map(lambda _: shared.get("/do/inc", params={"name": "contended"}).status_code, range(100))
        )
    assert statuses == [200] * 100
    with fixture_runtime.client() as client:
        assert client.get("/do/get", params={"name": "contended"}).json()["n"] == 100


def test_alarm_fires(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        at = int(time.time() * 1000) + 200
        assert client.get("/do/alarm", params={"name": "alarm", "at": str(at)}).json() == {"alarm": at}
        wait_for(lambda: client.get("/do/get", params={"name": "alarm"}).json()["alarms"] == 1)


def test_exception_gives_500_logs_it_and_keeps_serving(fixture_runtime: RunningRuntime) -> None:
    with fixture_runtime.client() as client:
        response = client.get("/boom")
        assert response.status_code == 500
        assert "ValueError: boom from the test worker" in response.text
        assert client.get("/hello").status_code == 200
    log = wait_for(lambda: "boom from the test worker" in fixture_runtime.log() and fixture_runtime.log())
    assert "GET /boom: the Worker threw an exception" in log
    assert 'tests/runtime/fixtures/worker/entry.py", line' in log


def _raw_request(url: str, payload: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_requests_get_400(fixture_runtime: RunningRuntime) -> None:
    garbage = _raw_request(fixture_runtime.url, b"THIS IS NOT HTTP\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 Bad Request") and b"malformed HTTP request" in garbage
    star = _raw_request(fixture_runtime.url, b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert star.startswith(b"HTTP/1.1 400") and b"is not a path" in star
    with fixture_runtime.client() as client:
        assert client.get("/hello").status_code == 200


def test_d1_rest_endpoint_matches_cloudflare_shape(fixture_runtime: RunningRuntime) -> None:
    """Cloudflare API: POST /accounts/{account_id}/d1/database/{database_id}/query (D1 > Query database)."""
    base = f"{fixture_runtime.url}/__edgestack/client/v4/accounts/{'0' * 32}/d1/database/rt-db/query"
    auth = {"authorization": f"Bearer {fixture_runtime.admin_token}"}
    with httpx.Client(timeout=30) as client:
        assert client.post(base, json={"sql": "SELECT 1"}).status_code == 401
        ok = client.post(
            base, headers=auth, json={"sql": "SELECT 1 AS x; SELECT 2 AS y", "params": []}
        ).json()
        assert ok["success"] is True and ok["errors"] == []
        assert [r["results"] for r in ok["result"]] == [[{"x": 1}], [{"y": 2}]]
        bound = client.post(base, headers=auth, json={"sql": "SELECT ?1 AS x", "params": ["v"]}).json()
        assert bound["result"][0]["results"] == [{"x": "v"}]
        failed = client.post(
            base,
            headers=auth,
            json={"sql": "INSERT INTO items (name) VALUES ('rolled back'); SELECT * FROM no_such_table"},
        )
        assert failed.status_code == 400 and failed.json()["success"] is False
        assert "no_such_table" in failed.json()["errors"][0]["message"]
        rows = client.post(
            base, headers=auth, json={"sql": "SELECT name FROM items WHERE name = 'rolled back'"}
        )
        assert rows.json()["result"][0]["results"] == []
        assert client.post(base, headers=auth, content=b"{not json").status_code == 400
        unknown = client.post(base.replace("rt-db", "nope"), headers=auth, json={"sql": "SELECT 1"})
        assert unknown.status_code == 404


def test_restart_keeps_state_drains_wait_until_and_resumes_alarms(fixture_runtime: RunningRuntime) -> None:
    """Runs last in this module: it restarts the shared host on the same state folder."""
    with fixture_runtime.client() as client:
        client.get("/kv/put", params={"k": "persisted", "v": "yes"}).raise_for_status()
        client.post("/r2/put", params={"k": "persisted.txt"}, content="kept").raise_for_status()
        client.get("/d1/add", params={"name": "persisted"}).raise_for_status()
        client.get("/do/inc", params={"name": "persisted"}).raise_for_status()
        at = int(time.time() * 1000) + 600_000  # still pending after the restart
        client.get("/do/alarm", params={"name": "later", "at": str(at)}).raise_for_status()
        due = int(time.time() * 1000) + 1000  # due around the restart: fires once, before or after it
        client.get("/do/alarm", params={"name": "around", "at": str(due)}).raise_for_status()
        # waitUntil work still running when the host is told to stop must finish first.
        assert client.get("/wait", params={"k": "background", "v": "done", "ms": "1500"}).json() == {
            "scheduled": True
        }
    fixture_runtime.restart()
    with fixture_runtime.client() as client:
        assert client.get("/kv/get", params={"k": "background"}).json() == {"value": "done"}
        assert client.get("/kv/get", params={"k": "persisted"}).json() == {"value": "yes"}
        assert client.get("/r2/get", params={"k": "persisted.txt"}).json() == {"value": "kept"}
        assert "persisted" in [r["name"] for r in client.get("/d1/list").json()["rows"]]
        assert client.get("/do/get", params={"name": "persisted"}).json()["n"] == 1
        wait_for(lambda: client.get("/do/get", params={"name": "around"}).json()["alarms"] == 1)
        later = client.get("/do/get", params={"name": "later"}).json()
        assert later["alarm"] == at and later["alarms"] == 0
        # The pending alarm survived the restart: moving it closer makes it fire.
        soon = int(time.time() * 1000) + 100
        client.get("/do/alarm", params={"name": "later", "at": str(soon)}).raise_for_status()
        wait_for(lambda: client.get("/do/get", params={"name": "later"}).json()["alarms"] == 1)
