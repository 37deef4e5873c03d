"""Benchmark `GET /dashboard` with 10,000 usage rows: time from signing in to the page drawn.

The gateway runs in the in-process CPython harness (`tests/harness`, SQLite for D1), then on the
local runtime (`edgestack dev`); 10,000 usage records spread over the last 24 hours (3 tenants, 6
keys, 3 aliases, 3% errors, 20% cache hits) are inserted straight into its D1 (the runtime's through
its D1 admin API). Debian's chromium (`/usr/bin/chromium`, headless, Playwright with
`executable_path`) signs in with an admin key; the figure is `performance.now()` from the submit to
`body[data-loaded]` (both API calls answered and everything drawn), median and max of 7 loads, with
an empty D1 measured in the same run as the baseline. Target: under 1 s.

Usage: `python bench/dashboard.py [--no-write]`. Writes the "dashboard" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT / "worker_src", ROOT / "tests", ROOT):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from bench.benchdocs import publish  # noqa: E402

SECTION = "## dashboard"
ADMIN = "bench-admin-key"
ROWS = 10_000
LOADS = 7


def _section() -> dict[str, Any]:
    """The gateway section (stack-file form): 6 keys over 3 tenants and an operator admin key."""
    keys = {
        f"k{i}": {"sha256": hashlib.sha256(f"key-{i}".encode()).hexdigest(), "scope": f"t{i % 3}"}
        for i in range(6)
    }
    keys["admin"] = {
        "sha256": hashlib.sha256(ADMIN.encode()).hexdigest(),
        "scope": "t0",
        "operator": True,
        "admin": True,
    }
    return {
        "public": False,
        "usage_binding": "DB",
        "keys": keys,
        "providers": {"up": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1", "prices": {}}},
        "routes": {
            alias: {"candidates": [{"provider": "up", "model": "m"}]} for alias in ("fast", "smart", "rag")
        },
    }


def seed(db: Any, now_ms: int, rows: int) -> None:
    from app.gateway.usage import UsageRecord, insert_statement

    statements = []
    for i in range(rows):
        record = UsageRecord(
            request_id=f"bench-{i}",
            ts_ms=now_ms - (i * 86_400_000) // rows,
            api="openai",
            status=500 if i % 33 == 0 else 200,
            key_id=f"k{i % 6}",
            alias=("fast", "smart", "rag")[i % 3],
            provider="up",
            model="m",
            input_tokens=100 + i % 50,
            output_tokens=20 + i % 30,
            cost_usd=0.0001 * (1 + i % 7),
            latency_ms=50 + (i * 37) % 400,
            cache_status="HIT" if i % 5 == 0 else "MISS",
        )
        statements.append(insert_statement(record))
    with db.lock:
        db.conn.execute("BEGIN")
        for sql, params in statements:
            db.conn.execute(sql, params)
        db.conn.execute("COMMIT")


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def seed_runtime(url: str, token: str, account: str, database: str, now_ms: int, rows: int) -> None:
    """The same records, inserted through the local runtime's D1 admin API (its REST query shape)."""
    import httpx
    from app.gateway.usage import INSERT_SQL

    captured: list[tuple[Any, ...]] = []

    class Capture:
        lock = __import__("threading").Lock()

        class conn:  # noqa: N801 (stands in for a sqlite3 connection)
            @staticmethod
            def execute(sql: str, params: tuple[Any, ...] = ()) -> None:
                if params:
                    captured.append(params)

    seed(Capture, now_ms, rows)
    head = INSERT_SQL.split(" VALUES ")[0]
    endpoint = f"{url}/__edgestack/client/v4/accounts/{account}/d1/database/{database}/query"
    for start in range(0, len(captured), 50):  # a statement stays under D1's 100 KB
        values = ", ".join(
            "(" + ", ".join(_sql_literal(v) for v in row) + ")" for row in captured[start : start + 50]
        )
        reply = httpx.post(
            endpoint,
            json={"sql": f"{head} VALUES {values}", "params": []},
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        if reply.status_code != 200:
            raise RuntimeError(f"seeding the runtime D1: HTTP {reply.status_code}: {reply.text[:300]}")


def measure_runtime(rows: int) -> list[float]:
    """`edgestack dev` (in this process's session) on the local stack with the bench's gateway section."""
    import tempfile
    import time

    import yaml

    from infra.dev.session import DevOptions, DevSession

    with tempfile.TemporaryDirectory(prefix="edgestack-dash-") as tmp:
        folder = Path(tmp)
        stack = yaml.safe_load((ROOT / "stacks" / "local.yaml").read_text())
        stack["gateway"] = _section()
        stack.pop("rag", None)
        stack.pop("agents", None)
        (folder / "migrations").symlink_to(ROOT / "stacks" / "migrations")
        stack_path = folder / "dash.yaml"
        stack_path.write_text(yaml.safe_dump(stack, sort_keys=False))
        options = DevOptions(
            stack=str(stack_path),
            port=0,
            state_dir=folder / "state",
            embedder="hashing",
            log_file=folder / "dev.log",
        )
        session = DevSession(options, out=lambda _line: None)
        ready = session.start(announce=False)
        try:
            database = session.stack.resource_name("DB", session.stack.bindings.d1["DB"].name)
            if rows:
                seed_runtime(
                    ready.url,
                    session.admin_token,
                    session.stack.account_id,
                    database,
                    int(time.time() * 1000),
                    rows,
                )
            return measure(ready.url)
        finally:
            session.close()


def measure(base_url: str) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for _ in range(LOADS):
            page.goto(f"{base_url}/dashboard")
            page.evaluate("sessionStorage.clear()")
            page.reload()
            page.fill("#key", ADMIN)
            page.evaluate(
                "window.__t0 = 0; document.querySelector('#signin-form').addEventListener('submit', () => { window.__t0 = performance.now(); }, {capture: true})"
            )
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("body[data-loaded=true]", timeout=30_000)
            times.append(page.evaluate("performance.now() - window.__t0"))
        browser.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import time

    from harness import GatewayHarness, default_bindings
    from harness.planned import planned_config

    results = {}
    for rows in (0, ROWS):
        bindings = default_bindings()
        seed(bindings.d1["DB"], int(time.time() * 1000), rows)
        with GatewayHarness(planned_config({"gateway": _section()}), {}, bindings) as harness:
            results[rows] = measure(harness.base_url)
    empty, full = results[0], results[ROWS]
    runtime_empty, runtime_full = measure_runtime(0), measure_runtime(ROWS)
    load = os.getloadavg()[0]
    text = "\n".join(
        [
            SECTION,
            "",
            f"`python bench/dashboard.py` on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, 1-minute load average {load:.1f} at the end. The gateway in the in-process "
            "harness (SQLite for D1), Debian's chromium headless via Playwright; time from submitting the sign-in form "
            f"to the page drawn (both API calls answered), {LOADS} loads each:",
            "",
            "| usage rows | median | max |",
            "|---:|---:|---:|",
            f"| 0 | {statistics.median(empty):.0f} ms | {max(empty):.0f} ms |",
            f"| {ROWS:,} (24 h, 6 keys, 3 tenants) | {statistics.median(full):.0f} ms | {max(full):.0f} ms |",
            "",
            "On the local runtime (`edgestack dev`: the Worker on Pyodide in workerd, Miniflare's D1; the rows "
            "inserted through the runtime's D1 admin API), same run:",
            "",
            "| usage rows | median | max |",
            "|---:|---:|---:|",
            f"| 0 | {statistics.median(runtime_empty):.0f} ms | {max(runtime_empty):.0f} ms |",
            f"| {ROWS:,} | {statistics.median(runtime_full):.0f} ms | {max(runtime_full):.0f} ms |",
            "",
            f"Target: under 1 s with {ROWS:,} rows. {ROWS:,} rows add "
            f"{statistics.median(full) - statistics.median(empty):.0f} ms at the median in the harness and "
            f"{statistics.median(runtime_full) - statistics.median(runtime_empty):.0f} ms on the local runtime: the "
            "queries over the window (the total with its latency percentiles, every breakdown in one scan, the hourly series, the last 100). D1 on "
            "Cloudflare was not measured.",
            "",
        ]
    )
    publish(SECTION, text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
