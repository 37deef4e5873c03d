"""`edgestack dev local`, as the README runs it: the real worker_src on stacks/local.yaml, through
entry.py and js_bindings.py (KV, D1, R2, a Durable Object and Vectorize behind /demo)."""

from __future__ import annotations

import json
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
from infra.spec.local_admin import LOCAL_ADMIN_KEY

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


def test_the_index_and_healthz_methods(dev_cli: tuple[str, list[str], subprocess.Popen[str]]) -> None:
    index = httpx.get(f"{dev_cli[0]}/", timeout=30)
    assert index.status_code == 200 and index.json()["stack"] == "local"
    assert {"POST /v1/chat/completions", "POST /v1/rag/query", "GET /v1/tools"} <= set(index.json()["routes"])
    refused = httpx.post(f"{dev_cli[0]}/healthz", timeout=30)
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


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


def test_banner_prints_the_local_admin_key_and_the_seeded_tools(
    dev_cli: tuple[str, list[str], subprocess.Popen[str]],
) -> None:
    banner = "".join(dev_cli[1])
    assert f"Local admin key: {LOCAL_ADMIN_KEY} " in banner
    assert "Sample agent tools (tenant public): search_docs (added now), remind_me (added now)" in banner
    tools = httpx.get(f"{dev_cli[0]}/v1/tools", timeout=30).json()["data"]
    assert {t["name"]: t["requires_approval"] for t in tools} == {"remind_me": True, "search_docs": False}


DOCS_WITH_EXAMPLES = ("README.md", "docs/gateway.md", "docs/agents.md")
SH_BLOCK = re.compile(r"^( *)```sh\n(.*?)^\1```", re.DOTALL | re.MULTILINE)


def offline_examples(doc: str) -> list[str]:
    """The doc's ```sh blocks that call the local runtime (localhost:8787), dedented."""
    text = (REPO / doc).read_text(encoding="utf-8")
    blocks = []
    for match in SH_BLOCK.finditer(text):
        indent = len(match.group(1))
        body = "\n".join(line[indent:] for line in match.group(2).splitlines())
        if "localhost:8787" in body:
            blocks.append(body)
    return blocks


def test_every_doc_has_offline_examples_for_chat_stream_agents_and_usage() -> None:
    joined = {doc: "\n".join(offline_examples(doc)) for doc in DOCS_WITH_EXAMPLES}
    for doc in ("README.md", "docs/gateway.md"):
        assert "/v1/chat/completions" in joined[doc] and '"stream": true' in joined[doc], doc
        assert "/v1/usage" in joined[doc], doc
    for doc in ("README.md", "docs/agents.md"):
        assert "/approvals/$CALL_ID" in joined[doc] and "call remind_me" in joined[doc], doc


@pytest.mark.parametrize("doc", DOCS_WITH_EXAMPLES)
def test_the_docs_curl_examples_answer_on_the_stock_local_stack(
    dev_cli: tuple[str, list[str], subprocess.Popen[str]], doc: str
) -> None:
    """Each block runs as written (bash, from the repository root), against this runtime's port;
    every curl fails on an HTTP error (--fail-with-body), so a 4xx/5xx or a refused connection fails."""
    host = dev_cli[0].removeprefix("http://")
    prelude = 'set -eo pipefail\ncurl() { command curl --fail-with-body -sS "$@"; }\n'
    for block in offline_examples(doc):
        script = prelude + block.replace("localhost:8787", host)
        ran = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, f"{doc}:\n{block}\n--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"
        assert '"error"' not in ran.stdout, f"{doc}:\n{block}\n{ran.stdout}"
        if "call remind_me" in block:
            assert '"status":"completed"' in ran.stdout and "remind_me returned:" in ran.stdout, ran.stdout
        if '"stream": true' in block:
            assert "data: [DONE]" in ran.stdout, ran.stdout
        if "/v1/rag/query" in block:  # the answer is prose from the README, not its code lines
            answer = json.loads(ran.stdout[ran.stdout.rindex('{"answer"') :])["answer"]
            assert "curl" not in answer and "```" not in answer and "run the tests" in answer, answer
            sentences = [part for part in re.split(r" ?\[\d+\] ?", answer) if part]
            assert len(set(sentences)) == len(sentences), answer  # no sentence twice


def test_sigterm_stops_cleanly(dev_cli: tuple[str, list[str], subprocess.Popen[str]]) -> None:
    process = dev_cli[2]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in "".join(dev_cli[1])
