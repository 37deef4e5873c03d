"""Budgets on the REAL local runtime (`edgestack dev`: the Worker and the BudgetCounter Durable
Objects on Pyodide in workerd, with per-object SQLite): 50 parallel requests against a budget with
room for 10, and `GET /v1/budgets`. One runtime for the module; each test its own budget and key.
Prices and the one-request cost are those of test_gateway_budgets.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gateway_testing import SECRETS, Upstreams, route
from harness.target import DevRuntimeTarget, ExternalGateway
from test_gateway_budgets import PER_REQUEST, budget_section, budgets_of, burst, chat

pytestmark = pytest.mark.dev_runtime

BUDGETS = {
    "burst": {"scope": "key", "match": "gina", "limit_usd": 10 * PER_REQUEST, "window": "day"},
    "alice-day": {"scope": "key", "match": "alice", "limit_usd": 3 * PER_REQUEST, "window": "day"},
}


@pytest.fixture(scope="module")
def dev_gw(upstreams: Upstreams) -> Iterator[ExternalGateway]:
    upstreams.fresh()
    config = budget_section(upstreams, BUDGETS, cached=route(("oa", "gpt-a"), cache={"enabled": True}))
    with DevRuntimeTarget().start({"gateway": config}, SECRETS) as running:
        assert isinstance(running, ExternalGateway)
        yield running


def test_fifty_parallel_requests_against_room_for_ten(
    dev_gw: ExternalGateway, fresh_upstreams: Upstreams
) -> None:
    fresh_upstreams.oa.configure(latency_ms=50.0)

    replies = burst(dev_gw.base_url, "sk-gina", 50)
    dev_gw.drain()
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] * 10 + [429] * 40
    assert {r.json()["error"]["code"] for r in replies if r.status_code == 429} == {"budget_exceeded"}
    row = budgets_of(dev_gw.base_url, "sk-op")[("burst", "key:gina")]
    assert row["spent_usd"] == pytest.approx(10 * PER_REQUEST) and row["reserved_usd"] == 0


def test_cache_hits_are_free_and_keys_see_their_own_budget(dev_gw: ExternalGateway) -> None:
    first = chat(dev_gw.base_url, "sk-alice", model="cached", text="devruntimebudget")
    assert first.status_code == 200 and float(first.headers["x-edgestack-budget-remaining"]) == pytest.approx(
        2 * PER_REQUEST
    )
    dev_gw.drain()
    hit = chat(dev_gw.base_url, "sk-alice", model="cached", text="devruntimebudget")
    assert hit.headers["x-edgestack-cache"] == "HIT"
    dev_gw.drain()
    mine = budgets_of(dev_gw.base_url, "sk-alice")
    assert set(mine) == {("alice-day", "key:alice")}
    assert mine[("alice-day", "key:alice")]["spent_usd"] == pytest.approx(PER_REQUEST)


def test_dashboard_and_its_usage_queries_on_the_runtime(dev_gw: ExternalGateway) -> None:
    page = httpx.get(f"{dev_gw.base_url}/dashboard", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'none'; script-src 'sha256-")
    assert chat(dev_gw.base_url, "sk-bob", text="dashboardquery").status_code == 200
    dev_gw.drain()
    usage = httpx.get(
        f"{dev_gw.base_url}/v1/usage",
        params={
            "scope": "tenant",
            "interval": "hour",
            "group_by": "total",
            "breakdowns": "alias,provider,model,key,tenant",
            "recent": "100",
            "include": "rag,agents",
        },
        headers={"authorization": "Bearer sk-admin"},
        timeout=30,
    )
    assert usage.status_code == 200, usage.text
    body = usage.json()
    assert body["scope"] == "tenant" and body["totals"]["requests"] == body["data"][0]["requests"] >= 1
    assert sum(point["requests"] for point in body["series"]) == body["totals"]["requests"]
    assert {row["tenant"] for row in body["breakdowns"]["tenant"]} == {"acme"}  # globex's gina is not acme's
    assert {r["key_id"] for r in body["recent"]} <= {"alice", "bob", "admin"}
