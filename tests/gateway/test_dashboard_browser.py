"""`GET /dashboard` in a real browser: Debian's `chromium` (`/usr/bin/chromium`, installed by
`.ci/run`) driven by Playwright with `executable_path` (never a downloaded browser), against the
in-process gateway harness with traffic this test generates.

Covers: the sign-in view, a non-admin key refused, an admin key's charts drawn (SVG with data), the
figures equal to `GET /v1/usage`, no console errors, no request leaving the origin, laptop and phone
widths, light and dark. Screenshots go to `.artifacts/dashboard/` (gitignored; CI uploads it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_testing import route, section
from harness.planned import key_sha256

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "dashboard"

pytestmark = [
    pytest.mark.harness_only,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)"),
]

KEYS = {
    "admin": {"sha256": key_sha256("sk-admin"), "scope": "acme", "admin": True},
    "alice": {"sha256": key_sha256("sk-alice"), "scope": "acme"},
    "gina": {"sha256": key_sha256("sk-gina"), "scope": "globex"},
}


@pytest.fixture
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


def traffic(base_url: str) -> None:
    for key, text, model in [
        ("sk-alice", "one", "fast"),
        ("sk-alice", "two", "fast"),
        ("sk-alice", "one", "fast"),  # a cache hit
        ("sk-admin", "three", "smart"),
        ("sk-gina", "four", "fast"),  # another tenant: not on acme's admin dashboard
        ("sk-alice", "TRIGGER_400", "fast"),  # an error
    ]:
        httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": text}]},
            headers={"authorization": f"Bearer {key}"},
            timeout=30,
        )


def watch(page: Any, origin: str) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request", lambda request: None if request.url.startswith(origin) else elsewhere.append(request.url)
    )
    return problems, elsewhere


def sign_in(page: Any, key: str) -> None:
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")


def test_dashboard_signs_in_draws_the_api_figures_and_stays_on_origin(
    gateway, fresh_upstreams, browser
) -> None:
    routes = {"fast": route(("oa", "gpt-a"), cache={"enabled": True}), "smart": route(("an", "claude-c"))}
    budgets = {"acme-day": {"scope": "tenant", "match": "acme", "limit_usd": 5.0, "window": "day"}}
    gw = gateway(
        section(fresh_upstreams, routes, public=False, keys=KEYS, budgets=budgets, budget_binding="BUDGETS")
    )
    traffic(gw.base_url)
    gw.drain()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = context.new_page()
    problems, elsewhere = watch(page, gw.base_url)
    reply = page.goto(f"{gw.base_url}/dashboard")
    assert reply.status == 200 and "default-src 'none'" in reply.headers["content-security-policy"]
    assert page.is_visible("#signin") and not page.is_visible("#board")

    sign_in(page, "sk-alice")  # not an admin key
    page.wait_for_selector("#signin-error:has-text('not an admin key')")
    assert not page.is_visible("#board") and page.evaluate("sessionStorage.length") == 0
    # the refused reads are the only errors the browser logs: "Failed to load resource: ... 403"
    assert problems and all("status of 403" in problem for problem in problems)
    problems.clear()

    sign_in(page, "sk-admin")
    page.wait_for_selector("body[data-loaded=true]")
    assert page.evaluate("sessionStorage.getItem('edgestack-dashboard-key')") == "sk-admin"
    assert "sk-admin" not in page.url
    for chart in ("chart-requests", "chart-tokens", "chart-cost"):
        drawn = page.evaluate(
            f"[...document.querySelectorAll('#{chart} svg rect.bar')].filter(r => +r.getAttribute('height') > 0).length"
        )
        assert drawn > 0 and page.locator(f"#{chart} svg[role=img] title").count() > 0

    since = int(time.time()) - 24 * 3600
    usage = httpx.get(
        f"{gw.base_url}/v1/usage",
        params={"scope": "tenant", "since": since, "interval": "hour", "breakdowns": "total,tenant,key"},
        headers={"authorization": "Bearer sk-admin"},
        timeout=30,
    ).json()
    totals = usage["totals"]
    assert (
        totals["requests"] == 5 and totals["errors"] == 1 and totals["cache_hits"] == 1
    )  # acme's five requests
    tile = {
        label: page.locator(f"[data-figure='{label}'] .value").inner_text()
        for label in ("requests", "errors", "tokens", "cost", "cache hit rate")
    }
    assert tile["requests"] == f"{totals['requests']:,}" and tile["errors"] == f"{totals['errors']:,}"
    assert tile["tokens"] == f"{totals['input_tokens'] + totals['output_tokens']:,}"
    assert tile["cost"] == f"${totals['cost_usd']:.4f}"
    assert tile["cache hit rate"] == f"{100 * totals['cache_hits'] / totals['requests']:.1f}%"
    tenants = page.locator("#by-tenant tbody tr td:first-child").all_inner_texts()
    assert tenants == [row["tenant"] for row in usage["breakdowns"]["tenant"]] == ["acme"]
    assert page.locator("#recent tbody tr").count() == 5
    assert page.locator("#budgets tbody tr td:first-child").all_inner_texts() == ["acme-day"]
    page.screenshot(path=str(ARTIFACTS / "laptop-light.png"), full_page=True)

    page.keyboard.press("Tab")  # keyboard reachable: focus lands on a control
    assert page.evaluate("document.activeElement.tagName") in ("BUTTON", "SELECT", "INPUT")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True)
    phone_page = phone.new_page()
    phone_problems, phone_elsewhere = watch(phone_page, gw.base_url)
    phone_page.goto(f"{gw.base_url}/dashboard")
    sign_in(phone_page, "sk-admin")
    phone_page.wait_for_selector("body[data-loaded=true]")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    background = phone_page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(251, 251, 253)"  # the dark palette applies
    phone_page.screenshot(path=str(ARTIFACTS / "phone-dark.png"), full_page=True)

    assert problems == [] and phone_problems == []
    assert elsewhere == [] and phone_elsewhere == []
    context.close()
    phone.close()


def test_the_data_endpoints_refuse_without_a_key(gateway, fresh_upstreams) -> None:
    gw = gateway(section(fresh_upstreams, {"fast": route(("oa", "gpt-a"))}, public=False, keys=KEYS))
    assert httpx.get(f"{gw.base_url}/v1/usage?scope=tenant", timeout=10).status_code == 401
    refused = httpx.get(
        f"{gw.base_url}/v1/usage?scope=tenant", headers={"authorization": "Bearer sk-alice"}, timeout=10
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_required"
    page = httpx.get(f"{gw.base_url}/dashboard", timeout=10)
    assert page.status_code == 200 and "sk-" not in page.text  # the page holds no data
