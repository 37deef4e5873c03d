"""Dollar budgets through the gateway (in-process harness; Budget counters are `BudgetCounter`
objects over fake Durable Object SQL storage): reservation under concurrency, settlement of cut
streams, cache hits, window rollover, alerts, visibility.

Prices are chosen so a request's settled cost equals its reservation: gpt-a costs nothing for input
and $1,000 per million output tokens, and every request asks for `max_tokens: 2` while the fake
answers "oa: <word>" (2 completion tokens). One request is then exactly $0.002.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from gateway_testing import SECRETS, route, section
from harness.bindings import FakeClock
from harness.planned import key_sha256

PER_REQUEST = 0.002
KEYS = {
    "sk-alice": {"sha256": key_sha256("sk-alice"), "scope": "acme"},
    "sk-bob": {"sha256": key_sha256("sk-bob"), "scope": "acme"},
    "sk-admin": {"sha256": key_sha256("sk-admin"), "scope": "acme", "admin": True},
    "sk-gina": {"sha256": key_sha256("sk-gina"), "scope": "globex"},
    "sk-op": {"sha256": key_sha256("sk-op"), "scope": "platform", "operator": True},
}
KEY_NAMES = {name: name.removeprefix("sk-") for name in KEYS}


def budget_section(upstreams: Any, budgets: dict[str, Any], **routes: Any) -> dict[str, Any]:
    gateway = section(
        upstreams,
        {"cheap": route(("oa", "gpt-a")), **routes},
        public=False,
        keys={KEY_NAMES[k]: v for k, v in KEYS.items()},
        budgets=budgets,
        budget_binding="BUDGETS",
    )
    gateway["providers"]["oa"]["prices"] = {"gpt-a": {"input": 0.0, "output": 1000.0}}
    gateway["providers"]["ob"]["prices"] = {}  # gpt-b has no price
    return gateway


def chat(base_url: str, key: str, model: str = "cheap", text: str = "hi", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 2, **extra}
    return httpx.post(
        f"{base_url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30
    )


def burst(base_url: str, key: str, count: int) -> list[httpx.Response]:
    """`count` requests at once (each $0.002)."""

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=120) as client:
            body = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
            headers = {"authorization": f"Bearer {key}"}
            url = f"{base_url}/v1/chat/completions"
            return await asyncio.gather(*(client.post(url, json=body, headers=headers) for _ in range(count)))

    return asyncio.run(send())


def budgets_of(base_url: str, key: str) -> dict[tuple[str, str], dict[str, Any]]:
    reply = httpx.get(f"{base_url}/v1/budgets", headers={"authorization": f"Bearer {key}"}, timeout=30)
    assert reply.status_code == 200, reply.text
    return {(row["budget"], row["subject"]): row for row in reply.json()["data"]}


@pytest.mark.harness_only
def test_fifty_parallel_requests_against_room_for_ten(gateway, fresh_upstreams) -> None:
    fresh_upstreams.oa.configure(latency_ms=50.0)
    gw = gateway(
        budget_section(
            fresh_upstreams,
            {"team": {"scope": "tenant", "match": "acme", "limit_usd": 10 * PER_REQUEST, "window": "day"}},
        )
    )

    replies = burst(gw.base_url, "sk-alice", 50)
    gw.drain()
    served = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    assert len(served) == 10 and len(refused) == 40
    assert {r.json()["error"]["code"] for r in refused} == {"budget_exceeded"}
    assert "'team'" in refused[0].json()["error"]["message"]
    assert fresh_upstreams.oa.calls == 10  # the refused ones never reached the provider
    row = budgets_of(gw.base_url, "sk-op")[("team", "tenant:acme")]
    assert (
        row["spent_usd"] == pytest.approx(10 * PER_REQUEST) and row["spent_usd"] <= row["limit_usd"] + 1e-12
    )
    assert row["reserved_usd"] == 0 and row["remaining_usd"] == pytest.approx(0)


@pytest.mark.harness_only
def test_window_rollover_and_retry_after(gateway, fresh_upstreams) -> None:
    clock = FakeClock(datetime(2026, 3, 5, 23, 0, tzinfo=UTC).timestamp())  # one hour before midnight
    gw = gateway(
        budget_section(
            fresh_upstreams, {"daily": {"scope": "key", "limit_usd": 2 * PER_REQUEST, "window": "day"}}
        ),
        clock=clock,
    )
    first = chat(gw.base_url, "sk-alice")
    assert first.status_code == 200 and float(first.headers["x-edgestack-budget-remaining"]) == pytest.approx(
        PER_REQUEST
    )
    gw.drain()
    assert chat(gw.base_url, "sk-alice").status_code == 200
    gw.drain()
    refused = chat(gw.base_url, "sk-alice")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
    assert int(refused.headers["retry-after"]) == 3600
    assert chat(gw.base_url, "sk-bob").status_code == 200  # scope key without match: each key its own
    clock.advance(3600)  # midnight UTC: a new window
    gw.drain()
    assert chat(gw.base_url, "sk-alice").status_code == 200
    gw.drain()
    row = budgets_of(gw.base_url, "sk-alice")[("daily", "key:alice")]
    assert row["spent_usd"] == pytest.approx(PER_REQUEST) and row["window_end"] == "2026-03-07T00:00:00Z"


@pytest.mark.harness_only
def test_cache_hits_spend_nothing_and_pass_an_exhausted_budget(gateway, fresh_upstreams) -> None:
    cached = route(("oa", "gpt-a"), cache={"enabled": True})
    gw = gateway(
        budget_section(
            fresh_upstreams,
            {"one": {"scope": "stack", "limit_usd": PER_REQUEST, "window": "month"}},
            cached=cached,
        )
    )
    assert chat(gw.base_url, "sk-alice", model="cached", text="same").status_code == 200
    gw.drain()
    hit = chat(gw.base_url, "sk-alice", model="cached", text="same")
    assert hit.status_code == 200 and hit.headers["x-edgestack-cache"] == "HIT"
    assert chat(gw.base_url, "sk-alice", model="cached", text="other").status_code == 429
    gw.drain()
    row = budgets_of(gw.base_url, "sk-op")[("one", "stack")]
    assert row["spent_usd"] == pytest.approx(PER_REQUEST) and fresh_upstreams.oa.calls == 1


@pytest.mark.harness_only
def test_a_stream_cut_by_the_client_settles_what_was_produced(gateway, fresh_upstreams) -> None:
    fresh_upstreams.oa.configure(chunk_delay_ms=200.0)
    gw = gateway(
        budget_section(fresh_upstreams, {"cap": {"scope": "stack", "limit_usd": 1.0, "window": "day"}})
    )
    body = {
        "model": "cheap",
        "messages": [{"role": "user", "content": "one two three four five six seven eight"}],
        "max_tokens": 100,
        "stream": True,
    }
    with httpx.stream(
        "POST",
        f"{gw.base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": "Bearer sk-alice"},
        timeout=30,
    ) as reply:
        assert reply.status_code == 200
        reserved = 1.0 - float(reply.headers["x-edgestack-budget-remaining"])
        for chunk in reply.iter_bytes():
            if b"content" in chunk:
                break  # the client goes away after the first words
    for _ in range(100):  # the harness notices the hang-up on its next write
        gw.drain()
        row = budgets_of(gw.base_url, "sk-op")[("cap", "stack")]
        if row["reserved_usd"] == 0:
            break
        time.sleep(0.05)
    assert row["reserved_usd"] == 0  # the hold is released
    assert 0 < row["spent_usd"] < reserved  # something was produced, far less than the 100-token maximum


@pytest.mark.harness_only
def test_a_model_without_a_price_cannot_spend_against_a_hard_budget(gateway, fresh_upstreams) -> None:
    budgets = {"cap": {"scope": "stack", "limit_usd": 1.0, "window": "day"}}
    gw = gateway(budget_section(fresh_upstreams, budgets, unpriced=route(("ob", "gpt-b"))))
    reply = chat(gw.base_url, "sk-alice", model="unpriced")
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "model_not_priced"
    assert "ob/gpt-b" in reply.json()["error"]["message"] and "'cap'" in reply.json()["error"]["message"]
    assert fresh_upstreams.ob.calls == 0


@pytest.mark.harness_only
def test_a_soft_budget_only_records(gateway, fresh_upstreams) -> None:
    gw = gateway(
        budget_section(
            fresh_upstreams,
            {"watch": {"scope": "stack", "limit_usd": PER_REQUEST, "window": "day", "mode": "soft"}},
        )
    )
    for _ in range(3):
        assert chat(gw.base_url, "sk-alice").status_code == 200
        gw.drain()
    assert budgets_of(gw.base_url, "sk-op")[("watch", "stack")]["spent_usd"] == pytest.approx(3 * PER_REQUEST)


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.harness_only
def test_each_alert_fires_once_per_window_signed(gateway, fresh_upstreams, webhook) -> None:
    url, received = webhook
    budget = {
        "scope": "tenant",
        "limit_usd": 4 * PER_REQUEST,
        "window": "day",
        "alert_at": [0.5, 0.75],
        "alert_webhook_url": url,
        "alert_webhook_secret": "HOOK_SECRET",
    }
    gw = gateway(
        budget_section(fresh_upstreams, {"team": budget}), secrets={**SECRETS, "HOOK_SECRET": "s3cret"}
    )
    for _ in range(4):
        chat(gw.base_url, "sk-alice")
        gw.drain()
    assert chat(gw.base_url, "sk-alice").status_code == 429
    gw.drain()
    payloads = [json.loads(body) for _, body in received]
    assert [(p["budget"], p["subject"], p["alert_at"]) for p in payloads] == [
        ("team", "tenant:acme", 0.5),  # after the 2nd request: $0.004 of $0.008
        ("team", "tenant:acme", 0.75),  # after the 3rd
    ]
    for headers, body in received:
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["x-edgestack-signature"] == expected


@pytest.mark.harness_only
def test_who_sees_which_budgets(gateway, fresh_upstreams) -> None:
    budgets = {
        "per-key": {"scope": "key", "limit_usd": 1.0, "window": "day"},
        "per-tenant": {"scope": "tenant", "limit_usd": 5.0, "window": "month"},
        "all": {"scope": "stack", "limit_usd": 50.0, "window": "month"},
    }
    gw = gateway(budget_section(fresh_upstreams, budgets))
    assert set(budgets_of(gw.base_url, "sk-alice")) == {("per-key", "key:alice")}
    assert set(budgets_of(gw.base_url, "sk-admin")) == {
        ("per-key", "key:alice"),
        ("per-key", "key:bob"),
        ("per-key", "key:admin"),
        ("per-tenant", "tenant:acme"),
    }
    everything = budgets_of(gw.base_url, "sk-op")
    assert ("all", "stack") in everything and ("per-tenant", "tenant:globex") in everything
    assert httpx.get(f"{gw.base_url}/v1/budgets", timeout=10).status_code == 401


@pytest.mark.harness_only
def test_embeddings_spend_against_the_same_budget(gateway, fresh_upstreams) -> None:
    """`POST /v1/embeddings` through a route alias holds and settles like chat: 40 characters of input
    are 10 tokens at $100 per million input tokens, $0.001 a call, so a $0.0025 budget takes two."""
    gateway_section = budget_section(
        fresh_upstreams,
        {"cap": {"scope": "key", "limit_usd": 0.0025, "window": "day"}},
        embed=route(("oa", "text-embed-a"), kind="embeddings"),
    )
    gateway_section["providers"]["oa"]["prices"]["text-embed-a"] = {"input": 100.0, "output": 0.0}
    gw = gateway(gateway_section)
    body = {"model": "embed", "input": "x" * 38}  # json-encoded: 40 characters with its quotes
    headers = {"authorization": "Bearer sk-alice"}
    statuses = []
    for _ in range(3):
        reply = httpx.post(f"{gw.base_url}/v1/embeddings", json=body, headers=headers, timeout=30)
        statuses.append(reply.status_code)
        gw.drain()
    assert statuses == [200, 200, 429]
    assert reply.json()["error"]["code"] == "budget_exceeded"
