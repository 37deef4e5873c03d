"""MCP overhead on the real local runtime (`edgestack dev`): `tools/call search_documents` on `/mcp`
against `POST /v1/rag/search` on the same corpus and queries, in the same run.

The stack is stacks/local.yaml (public gateway, hashing embedder). 60 short documents are PUT over
`/v1/documents`; then each query is sent both ways, alternating, so load on the machine hits both
alike. Reported per kind: p50 and p90 latency, and the host process's CPU time per call (Linux
`/proc/<pid>/stat` utime + stime of the Node host that runs the Worker on Pyodide, read around each
request and summed; clock ticks are 10 ms, so the per-call figure is a mean over many calls).

Second part (`--agents`): an agent turn with one call of a remote MCP tool (the agents' `mcp` kind,
an MCP SDK server on loopback reached through `edgestack dev --map-host`) against the same turn with
one call of a built-in tool (`kv_lookup`), both scripted on the fake OpenAI upstream of
bench/agents.py (two model calls per turn), alternating, in the same run.

    .venv/bin/python bench/mcp_overhead.py [--write] [--rounds 150] [--agents] [--turns 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO / "worker_src", REPO / "tests", REPO / "tests" / "agents", REPO / "tests" / "gateway", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from bench.benchdocs import publish  # noqa: E402
from tests.runtime.harness import start_runtime  # noqa: E402

HEADING = "## MCP: tools/call search_documents vs POST /v1/rag/search"
AGENT_HEADING = "## MCP: agent turn with a remote MCP tool vs a built-in tool"
MCP_HOST = "mcp.bench.test"
TOPICS = ["backups", "restores", "on-call", "deploys", "billing", "quotas", "alerts", "dns", "tls", "queues"]


def host_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(rounds: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="edgestack-bench-mcp-") as tmp:
        folder = Path(tmp)
        stack = yaml.safe_load((REPO / "stacks" / "local.yaml").read_text())
        (folder / "migrations").symlink_to(REPO / "stacks" / "migrations")
        path = folder / "bench.yaml"
        path.write_text(yaml.safe_dump(stack, sort_keys=False))
        runtime = start_runtime(path, REPO / "worker_src", folder / "state")
        try:
            assert runtime.session.runtime is not None and runtime.session.runtime.process is not None
            pid = runtime.session.runtime.process.pid
            with runtime.client() as client:
                for n in range(60):
                    topic = TOPICS[n % len(TOPICS)]
                    text = f"# {topic} {n}\n\nThe {topic} runbook, part {n}: step {n % 7} needs {n % 3 + 1} approvals."
                    response = client.put(f"/v1/documents/bench/{n}.md", content=text, headers={"content-type": "text/markdown"})
                    response.raise_for_status()
                return _measure(client, pid, rounds)
        finally:
            runtime.stop()


def _measure(client: httpx.Client, pid: int, rounds: int) -> dict[str, dict[str, float]]:
    wall: dict[str, list[float]] = {"rest": [], "mcp": []}
    cpu: dict[str, float] = {"rest": 0.0, "mcp": 0.0}
    mcp_headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}
    for n in range(rounds + 10):  # the first 10 rounds warm up and are not counted
        query = f"{TOPICS[n % len(TOPICS)]} approvals step {n % 7}"
        calls = {
            "rest": lambda q=query: client.post("/v1/rag/search", json={"query": q, "top_k": 5}),
            "mcp": lambda q=query, i=n: client.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "search_documents", "arguments": {"query": q, "top_k": 5}}},
                headers=mcp_headers,
            ),
        }
        for kind in (("rest", "mcp") if n % 2 else ("mcp", "rest")):
            cpu_before, started = host_cpu_s(pid), time.perf_counter()
            response = calls[kind]()
            elapsed, cpu_used = time.perf_counter() - started, host_cpu_s(pid) - cpu_before
            response.raise_for_status()
            if kind == "mcp":
                assert "result" in response.json() and not response.json()["result"]["isError"], response.text
            if n >= 10:
                wall[kind].append(elapsed * 1000)
                cpu[kind] += cpu_used
    return {
        kind: {
            "p50": statistics.median(values),
            "p90": statistics.quantiles(values, n=10)[-1],
            "cpu_ms": cpu[kind] * 1000 / len(values),
            "n": len(values),
        }
        for kind, values in wall.items()
    }


def report(results: dict[str, dict[str, float]], seconds: float) -> str:
    rest, mcp = results["rest"], results["mcp"]
    load = os.getloadavg()[0]
    rows = [
        "| call | p50 | p90 | host CPU per call |",
        "|---|---|---|---|",
        f"| `POST /v1/rag/search` (baseline) | {rest['p50']:.1f} ms | {rest['p90']:.1f} ms | {rest['cpu_ms']:.1f} ms |",
        f"| `POST /mcp` `tools/call search_documents` | {mcp['p50']:.1f} ms | {mcp['p90']:.1f} ms | {mcp['cpu_ms']:.1f} ms |",
        f"| ratio MCP / REST | {mcp['p50'] / rest['p50']:.2f}x | {mcp['p90'] / rest['p90']:.2f}x | {mcp['cpu_ms'] / max(rest['cpu_ms'], 1e-9):.2f}x |",
    ]
    return (
        f"{HEADING}\n\n"
        f"`python bench/mcp_overhead.py` on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, 1-minute load average {load:.1f} at the end. The real local runtime "
        f"(stacks/local.yaml, hashing embedder), 60 documents, {int(rest['n'])} queries each way, alternating "
        "(same query, same top_k = 5), one client, sequential. Host CPU is the Node host process that runs the "
        "Worker on Pyodide (plus Miniflare's D1 in workerd is a separate process, not counted).\n\n"
        + "\n".join(rows)
        + f"\n\nBoth doors run the same retrieval (`app.rag.retrieval.search`); what MCP adds is the JSON-RPC "
        f"envelope, the argument check against the tool's inputSchema and the result's two copies "
        f"(text and structuredContent). Run took {seconds:.0f} s; the machine is shared, so rows move "
        "by tens of percent between runs, the ratio less.\n"
    )


def run_agents(turns: int, latency_ms: float) -> dict[str, dict[str, float]]:
    import socket
    import threading

    import uvicorn
    from harness.target import DEFAULT_DEV_COMMAND, DevRuntimeTarget
    from mcp_remote import remote_server

    from bench.agents import TOOLS_KEY, UPSTREAM_KEY, Client, script, stack_config
    from bench.gateway import Child

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(remote_server().streamable_http_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    upstream = Child("serve-upstream", "--latency-ms", str(latency_ms))
    latencies: dict[str, list[float]] = {"builtin": [], "mcp": []}
    try:
        while not server.started:
            time.sleep(0.05)
        command = f"{DEFAULT_DEV_COMMAND} --map-host {MCP_HOST}=http://127.0.0.1:{port}"
        with DevRuntimeTarget(command).start(stack_config(upstream.url), {"UP_KEY": UPSTREAM_KEY}) as dev:
            worker = Client(dev.base_url)
            for name, spec in (
                ("lookup", {"kind": "kv_lookup", "prefix": "b/"}),
                ("remote", {"kind": "mcp", "url": f"https://{MCP_HOST}/mcp", "allow_tools": ["add"]}),
            ):
                assert worker.timed([worker.raw("PUT", f"/v1/tools/{name}", spec, TOOLS_KEY)])[1] == 0, name
            calls = {"builtin": {"name": "lookup", "arguments": {"key": "k"}}, "mcp": {"name": "remote__add", "arguments": {"a": 1, "b": 2}}}
            for i in range(turns + 2):  # the first two warm up (object, discovery) and are not counted
                for kind in (("builtin", "mcp") if i % 2 else ("mcp", "builtin")):
                    script(upstream.url, [{"tool_calls": [calls[kind]]}, {"text": "done"}])
                    raw = worker.raw("POST", f"/v1/agents/bench-{kind}/messages", {"content": f"turn {i}"}, TOOLS_KEY)
                    latency, failed, _ = worker.timed([raw])
                    assert failed == 0, kind
                    if i >= 2:
                        latencies[kind].extend(latency)
    finally:
        upstream.close()
        server.should_exit = True
        thread.join(10)
    return {
        kind: {"p50": statistics.median(v), "p90": statistics.quantiles(v, n=10)[-1], "n": len(v)}
        for kind, v in latencies.items()
    }


def agent_report(results: dict[str, dict[str, float]], latency_ms: float, seconds: float) -> str:
    builtin, mcp = results["builtin"], results["mcp"]
    return (
        f"{AGENT_HEADING}\n\n"
        f"`python bench/mcp_overhead.py --agents` on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"1-minute load average {os.getloadavg()[0]:.1f} at the end. The real local runtime; the fake OpenAI "
        f"upstream answers after {latency_ms:.0f} ms in its own process; the remote MCP server is the MCP SDK's "
        "(`MCPServer`, Streamable HTTP with sessions and SSE answers) under uvicorn on loopback, reached through "
        f"`--map-host`. Each turn: model call, one tool call, model call. {int(mcp['n'])} turns each, alternating; "
        "discovery is cached per isolate for 60 s, so most counted turns pay one `tools/call` and a turn after the cache expires also pays `initialize` + `tools/list`.\n\n"
        "| turn | p50 | p90 |\n|---|---|---|\n"
        f"| one built-in tool call (`kv_lookup`, baseline) | {builtin['p50']:.0f} ms | {builtin['p90']:.0f} ms |\n"
        f"| one remote MCP tool call (`remote__add`) | {mcp['p50']:.0f} ms | {mcp['p90']:.0f} ms |\n"
        f"| ratio | {mcp['p50'] / builtin['p50']:.2f}x | {mcp['p90'] / builtin['p90']:.2f}x |\n\n"
        f"Run took {seconds:.0f} s; the machine is shared, so rows move by tens of percent between runs.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--agents", action="store_true", help="measure agent turns (remote MCP vs built-in tool)")
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.agents:
        agent_results = run_agents(args.turns, 50.0)
        publish(AGENT_HEADING, agent_report(agent_results, 50.0, time.perf_counter() - started), args.write)
        print(json.dumps(agent_results), file=sys.stderr)
        return 0
    results = run(args.rounds)
    publish(HEADING, report(results, time.perf_counter() - started), args.write)
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
