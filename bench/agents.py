"""Benchmark agents on the local runtime (`edgestack dev`: Worker + AgentState Durable Object on
Pyodide, DO SQLite, D1, KV), against direct calls to the same loopback upstream, in one run.

Processes: the fake OpenAI upstream (`tests/fakes/llm_upstreams.py`, answering after a fixed delay,
scripted over HTTP for tool calls) runs in its own interpreter (bench/gateway.py's `serve-upstream`);
`edgestack dev` in its own; the clients (raw asyncio HTTP/1.1, keep-alive) here.

1. Per-turn overhead: a 1-step turn (one model call) against one direct upstream call, and a 3-tool-step
   turn (3 tool calls of a kv_lookup tool, then the answer: 4 model calls) against 4 direct calls.
   Also one chat completion through the gateway on the same runtime, for reference.
2. First request to a Durable Object: an agent's first message (new object: SQLite file, schema,
   identity) against its second; and the first agent request after the runtime starts (also imports
   `app.agents` in the isolate).
3. Throughput: 100 concurrent messages to one agent (turns are serialized) and to 100 agents.

Usage: `python bench/agents.py [--quick] [--no-write] [--latency-ms 50]`. Writes the "agents" section
of docs/benchmarks.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT / "worker_src", ROOT / "tests", ROOT):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from bench.benchdocs import write_section  # noqa: E402
from bench.gateway import Child, RawHttpConnection  # noqa: E402

SECTION = "## agents"
UPSTREAM_KEY = "bench-upstream-key"
TOOLS_KEY = "bench-agents-admin"  # tenant "tools": has the kv_lookup tool
PLAIN_KEY = "bench-agents-plain"  # tenant "plain": no tools
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


class Client:
    """Sequential or concurrent JSON POSTs on keep-alive connections; latencies in ms."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.netloc = parts.hostname or "127.0.0.1", parts.port or 80, parts.netloc

    def raw(self, method: str, path: str, body: Any, key: str) -> bytes:
        data = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nhost: {self.netloc}\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {key}\r\ncontent-length: {len(data)}\r\n\r\n"
        )
        return head.encode() + data

    async def run(self, requests: list[bytes], concurrency: int) -> tuple[list[float], int]:
        queue = list(reversed(requests))
        latencies: list[float] = []
        failed = 0

        async def worker() -> None:
            nonlocal failed
            connection = RawHttpConnection(self.host, self.port)
            try:
                while queue:
                    raw = queue.pop()
                    start = time.perf_counter()
                    status, _ = await connection.request(raw)
                    latencies.append((time.perf_counter() - start) * 1000)
                    failed += status != 200
            finally:
                connection.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, failed

    def timed(self, requests: list[bytes], concurrency: int = 1) -> tuple[list[float], int, float]:
        started = time.perf_counter()
        latencies, failed = asyncio.run(self.run(requests, concurrency))
        return latencies, failed, time.perf_counter() - started


def script(upstream_url: str, replies: list[dict[str, Any]]) -> None:
    import httpx

    root = upstream_url.removesuffix("/v1")
    httpx.post(root + "/_fake/script", json=replies, timeout=10).raise_for_status()


def stack_config(upstream_url: str) -> dict[str, Any]:
    def sha(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    gateway = (
        {
            "public": False,
            "usage_binding": "DB",
            "keys": {
                "tools": {"sha256": sha(TOOLS_KEY), "scope": "tools", "admin": True},
                "plain": {"sha256": sha(PLAIN_KEY), "scope": "plain"},
            },
            "providers": {
                "up": {
                    "kind": "openai-compatible",
                    "base_url": upstream_url,
                    "api_key_secret": "UP_KEY",
                    "prices": {"m": {"input": 1.0, "output": 2.0}},
                }
            },
            "routes": {"agent": {"candidates": [{"provider": "up", "model": "m"}]}},
        }
    )
    agents = {
        "state_binding": "AGENT",
        "history_binding": "DB",
        "tools_binding": "TOOLS",
        "model_alias": "agent",
        "max_turns": 8,
    }
    return {"gateway": gateway, "agents": agents}  # stack-file sections


def measure(latency_ms: float, turns: int, cold_agents: int) -> dict[str, Any]:
    from harness.target import DevRuntimeTarget

    upstream = Child("serve-upstream", "--latency-ms", str(latency_ms))
    results: dict[str, Any] = {"latency_ms": latency_ms, "turns": turns}
    try:
        with DevRuntimeTarget().start(stack_config(upstream.url), {"UP_KEY": UPSTREAM_KEY}) as dev:
            worker, direct = Client(dev.base_url), Client(upstream.url)

            def turn(agent: str, content: str, key: str = PLAIN_KEY) -> bytes:
                return worker.raw("POST", f"/v1/agents/{agent}/messages", {"content": content}, key)

            # the first agent request after start: imports app.agents, creates the object
            first, failed, _ = worker.timed([turn("first-after-start", "hi")])
            results["first_after_start_ms"] = first[0]
            put = worker.raw("PUT", "/v1/tools/lookup", {"kind": "kv_lookup", "prefix": "b/"}, TOOLS_KEY)
            assert worker.timed([put])[1] == 0, "PUT /v1/tools/lookup failed"

            chat_path = urlsplit(upstream.url).path + "/chat/completions"
            direct_ms, f1, _ = direct.timed([direct.raw("POST", chat_path, CHAT, UPSTREAM_KEY)] * turns)
            gateway_ms, f2, _ = worker.timed(
                [worker.raw("POST", "/v1/chat/completions", {**CHAT, "model": "agent"}, PLAIN_KEY)] * turns
            )
            worker.timed([turn("one-step", "warm up")])
            one_ms, f3, _ = worker.timed([turn("one-step", f"turn {i}") for i in range(turns)])

            calls = [{"name": "lookup", "arguments": {"key": f"k{i}"}} for i in range(3)]
            three_ms: list[float] = []
            for i in range(turns + 1):
                script(
                    upstream.url,
                    [
                        {"tool_calls": [calls[0]]},
                        {"tool_calls": [calls[1]]},
                        {"tool_calls": [calls[2]]},
                        {"text": "done"},
                    ],
                )
                latency, failed, _ = worker.timed([turn("three-steps", f"turn {i}", TOOLS_KEY)])
                f3 += failed
                if i:  # the first warms the object up
                    three_ms.extend(latency)

            cold_ms, warm_ms = [], []
            for i in range(cold_agents):
                cold, _, _ = worker.timed([turn(f"cold-{i}", "first")])
                warm, _, _ = worker.timed([turn(f"cold-{i}", "second")])
                cold_ms += cold
                warm_ms += warm

            one_agent, f4, one_wall = worker.timed(
                [turn("hot", f"m{i}") for i in range(100)], concurrency=100
            )
            for i in range(100):  # objects exist before the timed run: this measures turns, not creation
                worker.timed([turn(f"many-{i}", "warm")])
            many, f5, many_wall = worker.timed([turn(f"many-{i}", "go") for i in range(100)], concurrency=100)
            dev.drain()
            results.update(
                failed=failed + f1 + f2 + f3 + f4 + f5,
                direct_p50=pct(direct_ms, 0.5),
                direct_p99=pct(direct_ms, 0.99),
                gateway_p50=pct(gateway_ms, 0.5),
                one_p50=pct(one_ms, 0.5),
                one_p99=pct(one_ms, 0.99),
                three_p50=pct(three_ms, 0.5),
                three_p99=pct(three_ms, 0.99),
                cold_p50=pct(cold_ms, 0.5),
                cold_max=max(cold_ms),
                warm_p50=pct(warm_ms, 0.5),
                cold_agents=cold_agents,
                one_agent_rate=100 / one_wall,
                one_agent_p50=pct(one_agent, 0.5),
                one_agent_p99=pct(one_agent, 0.99),
                many_rate=100 / many_wall,
                many_p50=pct(many, 0.5),
                many_p99=pct(many, 0.99),
            )
    finally:
        upstream.close()
    return results


def render(r: dict[str, Any], seconds: float) -> str:
    d = r["direct_p50"]
    one_over = r["one_p50"] - d
    three_over = r["three_p50"] - 4 * d
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"""{SECTION}

`python bench/agents.py` on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, 1-minute load average {load:.1f} at the end. Measured on the local runtime (`edgestack dev`: the Worker and the AgentState Durable Object on Pyodide, DO SQLite, D1, KV); the fake OpenAI upstream answers after {r["latency_ms"]:.0f} ms in its own process; the clients (raw asyncio HTTP/1.1) in a third. Sequential requests unless stated; {r["turns"]} turns per row. Failed requests: {r["failed"]}.

Per-turn overhead against direct upstream calls (same upstream, same run):

| | p50 | p99 | baseline p50 | overhead p50 |
|---|---:|---:|---:|---:|
| direct upstream call | {d:.1f} ms | {r["direct_p99"]:.1f} ms | | |
| chat completion through the gateway (runtime) | {r["gateway_p50"]:.1f} ms | | {d:.1f} ms (1 call) | +{r["gateway_p50"] - d:.1f} ms |
| agent turn, 1 step (1 model call) | {r["one_p50"]:.1f} ms | {r["one_p99"]:.1f} ms | {d:.1f} ms (1 call) | +{one_over:.1f} ms ({r["one_p50"] / d:.2f}x) |
| agent turn, 3 tool steps (4 model calls, 3 kv_lookup) | {r["three_p50"]:.1f} ms | {r["three_p99"]:.1f} ms | {4 * d:.1f} ms (4 calls) | +{three_over:.1f} ms ({r["three_p50"] / (4 * d):.2f}x), {three_over / 4:.1f} ms per step |

Durable Object first request: an agent's first message (new object: SQLite file, tables, identity) p50 {r["cold_p50"]:.1f} ms (max {r["cold_max"]:.1f} ms) against its second message p50 {r["warm_p50"]:.1f} ms, over {r["cold_agents"]} new agents: +{r["cold_p50"] - r["warm_p50"]:.1f} ms. The very first agent request after the runtime starts (also imports `app.agents` in the isolate): {r["first_after_start_ms"]:.0f} ms.

Throughput, 100 concurrent clients, one message each:

| target | messages/s | p50 | p99 |
|---|---:|---:|---:|
| one agent (turns serialized by the object) | {r["one_agent_rate"]:.1f} | {r["one_agent_p50"]:.0f} ms | {r["one_agent_p99"]:.0f} ms |
| 100 agents (one message each, objects already created) | {r["many_rate"]:.1f} | {r["many_p50"]:.0f} ms | {r["many_p99"]:.0f} ms |

Reading the figures: one agent runs one turn at a time, so its throughput is bounded by 1 / (turn time) ≈ {1000 / r["one_p50"]:.1f}/s here. Across agents the turns overlap while they wait on the upstream, but the local runtime runs every object in one Pyodide interpreter on one thread (on Cloudflare each object has its own isolate), so the 100-agent row is bounded by that interpreter's CPU. The overhead of a turn covers: the Worker's route and auth, the call into the object (a second request inside the runtime), the SQLite writes (message + outbox row per message, in one transaction, plus arming the alarm), the prompt of up to `max_context_messages` (40) stored messages where the direct call sends one, and the gateway pipeline in-process (route, usage record); the outbox flush to D1 starts 50 ms after the response. The machine is shared with other jobs (see the load average): rows move by tens of percent between runs. Run took {seconds:.0f} s.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the fake upstream's delay")
    args = parser.parse_args()
    started = time.perf_counter()
    results = measure(args.latency_ms, turns=10 if args.quick else 40, cold_agents=5 if args.quick else 20)
    text = render(results, time.perf_counter() - started)
    print(text)
    print(json.dumps(results, indent=1), file=sys.stderr)
    if not args.no_write:
        write_section(SECTION, text)
    return 0 if results["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
