"""`edgestack dev local`, as the README runs it: the real worker_src on stacks/local.yaml, through
entry.py and js_bindings.py (KV, D1, R2, a Durable Object and Vectorize behind /demo)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from infra.plan.bundle import load_bundle

from .harness import REPO


@pytest.fixture(scope="module")
def dev_cli(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    state = tmp_path_factory.mktemp("local-state")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))",
            "dev",
            "local",
            "--port",
            "0",
            "--state",
            str(state),
            "--embedder",
            "hashing",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""},
    )
    assert process.stdout is not None
    lines: list[str] = []
    url = None
    for line in process.stdout:
        lines.append(line)
        match = re.search(r"Listening on (http://127\.0\.0\.1:\d+)", line)
        if match:
            url = match.group(1)
        if line.startswith("Ready in"):
            break
    assert url, "".join(lines)
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        yield url, lines, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def test_banner_lists_bindings_and_backends(dev_cli: tuple[str, list[str], subprocess.Popen[str]]) -> None:
    banner = "".join(dev_cli[1])
    for binding in ("CACHE", "DB", "DOCS", "AGENT", "VECTORS", "RATE_LIMITER", "AI"):
        assert re.search(rf"^  {binding}\s+\S", banner, re.MULTILINE), banner
    assert "hashing-embedder (not a language model)" in banner
    assert "RAG: default mode keyword, not hybrid: the hashing embedder knows no meaning" in banner
    assert "D1 migrations DB:" in banner


def test_healthz_reports_bundle_version_and_backends(
    dev_cli: tuple[str, list[str], subprocess.Popen[str]],
) -> None:
    health = httpx.get(f"{dev_cli[0]}/healthz", timeout=30).json()
    assert health["ok"] is True and health["stack"] == "local"
    assert health["bundle_version"] == load_bundle(REPO / "worker_src").version
    assert health["backends"]["kv"] == "miniflare"
    assert "hashing-embedder" in health["backends"]["ai"]


def test_demo_touches_every_backend_and_keeps_state(
    dev_cli: tuple[str, list[str], subprocess.Popen[str]],
) -> None:
    with httpx.Client(base_url=dev_cli[0], timeout=30) as client:
        first = client.get("/demo", params={"name": "newcomer"}).json()
        second = client.get("/demo", params={"name": "newcomer"}).json()
    assert first["kv"]["stored"] == "newcomer"
    assert second["kv"]["previous_visitor"] == "newcomer"
    assert first["d1"]["null_parameter_is_null"] is True and "0001_init.sql" in first["d1"]["migrations"]
    assert first["r2"]["read_back"] == "hello newcomer"
    assert (first["durable_object"]["visits"], second["durable_object"]["visits"]) == (1, 2)
    assert second["durable_object"]["sql_rows"] == 2
    assert first["vectorize"]["top_match"] == first["vectorize"]["upserted"]


def test_mcp_answers_on_the_local_stack(dev_cli: tuple[str, list[str], subprocess.Popen[str]]) -> None:
    """stacks/local.yaml enables /mcp (public gateway: no key), as docs/mcp.md says."""
    headers = {"accept": "application/json, text/event-stream"}
    listed = httpx.post(
        f"{dev_cli[0]}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers, timeout=30
    )
    assert listed.status_code == 200, listed.text
    assert "search_documents" in [t["name"] for t in listed.json()["result"]["tools"]]


def test_cron_trigger_reaches_default_scheduled(
    dev_cli: tuple[str, list[str], subprocess.Popen[str]],
) -> None:
    """entry.py's `Default.scheduled(controller, env, ctx)` adapter runs under the real SDK."""
    ran = httpx.get(f"{dev_cli[0]}/__scheduled", params={"cron": "0 * * * *", "time": "1000"}, timeout=30)
    assert ran.status_code == 200, ran.text
    assert ran.json() == {"outcome": "ok", "cron": "0 * * * *", "scheduledTime": 1000}


def test_sigterm_stops_cleanly(dev_cli: tuple[str, list[str], subprocess.Popen[str]]) -> None:
    process = dev_cli[2]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in "".join(dev_cli[1])
