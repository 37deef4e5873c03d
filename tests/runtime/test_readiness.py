"""Start-up order: the host serves the Worker (and /healthz) only after `edgestack dev` has applied
the D1 migrations through the admin API and signalled ready; before that, Worker traffic gets a 503
with `retry-after` and a JSON error, while the admin D1 endpoint already works."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from infra.dev import session as session_module
from infra.dev.migrate import ReadySignalError, signal_ready

from .conftest import FIXTURES
from .harness import start_runtime


def test_worker_waits_for_migrations_and_the_ready_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}
    real_apply = session_module.apply_local_migrations

    def observe_then_apply(the_plan, url, token, state_dir):  # type: ignore[no-untyped-def]
        with httpx.Client(base_url=url, timeout=30) as client:
            early = client.get("/healthz")
            seen["early"] = (early.status_code, early.headers.get("retry-after"), early.json())
            seen["early_d1_route"] = client.get("/d1/list").status_code
            seen["status"] = client.get("/__edgestack/status").json()["state"]
            query = client.post(
                f"/__edgestack/client/v4/accounts/{'0' * 32}/d1/database/rt-db/query",
                headers={"authorization": f"Bearer {token}"},
                json={"sql": "SELECT name FROM sqlite_master WHERE name = 'items'"},
            )
            seen["admin_d1"] = (query.status_code, query.json()["result"][0]["results"])
            seen["unauthorized_ready"] = client.post("/__edgestack/ready").status_code
        return real_apply(the_plan, url, token, state_dir)

    monkeypatch.setattr(session_module, "apply_local_migrations", observe_then_apply)
    runtime = start_runtime(FIXTURES / "stack.yaml", FIXTURES / "worker", tmp_path / "state")
    try:
        status, retry_after, body = seen["early"]  # type: ignore[misc]
        assert status == 503 and retry_after == "1"
        assert body["error"]["type"] == "not_ready" and "migrations" in body["error"]["message"]
        assert seen["early_d1_route"] == 503
        assert seen["status"] == "loaded"
        assert seen["admin_d1"] == (200, [])  # the admin API answers; the table is not there yet
        assert seen["unauthorized_ready"] == 401
        with runtime.client() as client:
            assert client.get("/hello").status_code == 200
            assert client.get("/d1/list").json() == {"rows": []}
            assert client.get("/__edgestack/status").json()["state"] == "ready"
        # A second signal is refused: the host is no longer waiting for migrations.
        with pytest.raises(ReadySignalError, match="not waiting for migrations"):
            signal_ready(runtime.url, runtime.admin_token)
    finally:
        runtime.stop()
