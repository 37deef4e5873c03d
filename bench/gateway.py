"""Benchmark the AI gateway against direct calls to the same loopback upstream, in one run.

Processes: each fake upstream (`tests/fakes/llm_upstreams.py`, answering after a fixed delay) and the
gateway (the in-process CPython harness, `tests/harness`, with KV/D1/rate-limit fakes, usage records
written through waitUntil) run in their own interpreters; the clients (raw asyncio HTTP/1.1) run here.

1. Overhead: the same non-streaming chat request, direct to the upstream vs through the gateway
   (virtual-key auth, rate limit, routing, usage record), with a 100 ms and a 10 ms upstream, at 1 and
   32 concurrent clients: p50/p99 and their ratios. Target: p50 overhead under 5% of 100 ms.
2. Cache: latency of hits (repeated prompt) against misses (unique prompts), 100 ms upstream.
3. Availability: a fallback route over two upstreams, one failing 30% of requests with 503; the share
   of client requests that succeed. Target: 100% while a healthy candidate exists.
4. Budgets: the gateway process's CPU time per request (Linux `/proc/<pid>/stat`) without budgets and
   with a key and a stack budget (two reservations and two settlements per request against
   BudgetCounter objects, which here run in the gateway's process), interleaved in one run.
   Target: under 1 ms of added CPU per request.

Usage: `python bench/gateway.py [--quick] [--no-write]`. Writes the "gateway" section of
docs/benchmarks.md unless `--no-write` (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT / "worker_src", ROOT / "tests", ROOT):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from bench.benchdocs import publish  # noqa: E402

SECTION = "## gateway"
UPSTREAM_KEY = "bench-upstream-key"
CLIENT_KEY = "bench-client-key"
BODY = {
    "model": "bench",
    "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
    "max_tokens": 32,
    "temperature": 0,
}


# ---------------------------------------------------------------- child processes


def serve_upstream(latency_ms: float, failure_rate: float, seed: int) -> None:
    from fakes.llm_upstreams import FakeLLMUpstream, UpstreamSettings

    settings = UpstreamSettings(latency_ms=latency_ms, failure_rate=failure_rate, seed=seed)
    fake = FakeLLMUpstream("openai", "up", api_key=UPSTREAM_KEY, settings=settings).start()
    print(json.dumps({"url": fake.base_url}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    fake.stop()


def serve_gateway(config_path: str) -> None:
    from harness import GatewayHarness, default_bindings

    config = json.loads(Path(config_path).read_text())
    bindings = default_bindings(real_sleep=True, rate_limit=(1_000_000, 60))
    with GatewayHarness(config, {"UP_KEY": UPSTREAM_KEY}, bindings) as harness:
        print(json.dumps({"url": harness.base_url}), flush=True)
        sys.stdin.read()
    counters = bindings.durable_objects["BUDGETS"]
    print(json.dumps({"objects_cpu_s": counters.cpu_s, "objects_requests": counters.requests}), flush=True)


class Child:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"child {args} exited with {self.process.wait()}")
        self.url: str = json.loads(line)["url"]

    def close(self) -> dict[str, Any]:
        """Stop the child; what it printed on the way out (a gateway: its counter objects' CPU), if anything."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            last = self.process.stdout.readline()
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return {}
        return json.loads(last) if last.strip() else {}


def gateway_config(routes: dict[str, Any], upstreams: dict[str, str], **extra: Any) -> dict[str, Any]:
    from harness.planned import planned_config

    return planned_config(
        {
            "gateway": {
                **extra,
                "public": False,
                "cache_binding": "CACHE",
                "usage_binding": "DB",
                "rate_limit": {"binding": "RATE_LIMITER", "key": "api_key"},
                "keys": {"bench": {"sha256": hashlib.sha256(CLIENT_KEY.encode()).hexdigest()}},
                "providers": {
                    name: {
                        "kind": "openai-compatible",
                        "base_url": url,
                        "api_key_secret": "UP_KEY",
                        "prices": {"m": {"input": 1.0, "output": 2.0}},
                    }
                    for name, url in upstreams.items()
                },
                "routes": routes,
            }
        }
    )


def start_gateway(config: dict[str, Any], folder: Path) -> Child:
    path = folder / f"gateway-{len(list(folder.iterdir()))}.json"
    path.write_text(json.dumps(config))
    return Child("serve-gateway", str(path))


# ---------------------------------------------------------------- clients (raw HTTP/1.1 over asyncio)


@dataclass
class Run:
    latencies_ms: list[float]
    ok: int
    failed: int
    attempts: list[int]

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


class RawHttpConnection:
    """A minimal keep-alive HTTP/1.1 client (far cheaper per request than httpx, so the load generator
    does not compete with the servers under test for the machine's two cores)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _raw_request(url: str, body: dict[str, Any], key: str) -> bytes:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    data = json.dumps(body).encode()
    head = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {key}\r\ncontent-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def _load(url: str, key: str, bodies: list[dict[str, Any]], concurrency: int) -> Run:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    queue = [_raw_request(url, body, key) for body in bodies]
    queue.reverse()
    latencies: list[float] = []
    attempts: list[int] = []
    counts = {"ok": 0, "failed": 0}

    async def worker() -> None:
        connection = RawHttpConnection(parts.hostname or "127.0.0.1", parts.port or 80)
        try:
            while queue:
                raw = queue.pop()
                start = time.perf_counter()
                status, headers = await connection.request(raw)
                latencies.append((time.perf_counter() - start) * 1000)
                counts["ok" if status == 200 else "failed"] += 1
                attempts.append(int(headers.get("x-edgestack-attempts", "1")))
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Run(latencies, counts["ok"], counts["failed"], attempts)


def load(url: str, bodies: list[dict[str, Any]], concurrency: int, gateway: bool) -> Run:
    key = CLIENT_KEY if gateway else UPSTREAM_KEY
    return asyncio.run(_load(url + "/chat/completions", key, bodies, concurrency))


def bodies(count: int, unique: bool = False, model: str = "bench") -> list[dict[str, Any]]:
    out = []
    for index in range(count):
        body = dict(BODY, model=model)
        if unique:
            body["messages"] = [{"role": "user", "content": f"Unique prompt {index} {time.time_ns()}"}]
        out.append(body)
    return out


# ---------------------------------------------------------------- scenarios


def overhead(folder: Path, latency_ms: float, concurrency: int, requests: int, rounds: int) -> dict[str, Any]:
    upstream = Child("serve-upstream", "--latency-ms", str(latency_ms))
    gateway = start_gateway(
        gateway_config({"bench": {"candidates": [{"provider": "up", "model": "m"}]}}, {"up": upstream.url}),
        folder,
    )
    try:
        load(upstream.url, bodies(concurrency * 2, model="m"), concurrency, gateway=False)  # warm-up
        load(gateway.url + "/v1", bodies(concurrency * 2), concurrency, gateway=True)
        direct, through = Run([], 0, 0, []), Run([], 0, 0, [])
        for _ in range(rounds):  # interleaved so drift hits both sides alike
            d = load(upstream.url, bodies(requests // rounds, model="m"), concurrency, gateway=False)
            g = load(gateway.url + "/v1", bodies(requests // rounds), concurrency, gateway=True)
            direct = Run(direct.latencies_ms + d.latencies_ms, direct.ok + d.ok, direct.failed + d.failed, [])
            through = Run(
                through.latencies_ms + g.latencies_ms, through.ok + g.ok, through.failed + g.failed, []
            )
    finally:
        gateway.close()
        upstream.close()
    return {
        "upstream_ms": latency_ms,
        "concurrency": concurrency,
        "requests": len(through.latencies_ms),
        "direct_p50": direct.pct(0.50),
        "direct_p99": direct.pct(0.99),
        "gateway_p50": through.pct(0.50),
        "gateway_p99": through.pct(0.99),
        "ratio_p50": through.pct(0.50) / direct.pct(0.50),
        "ratio_p99": through.pct(0.99) / direct.pct(0.99),
        "overhead_p50_ms": through.pct(0.50) - direct.pct(0.50),
        "failed": direct.failed + through.failed,
    }


def cache(folder: Path, latency_ms: float, misses: int, hits: int) -> dict[str, Any]:
    upstream = Child("serve-upstream", "--latency-ms", str(latency_ms))
    routes = {
        "bench": {"candidates": [{"provider": "up", "model": "m"}], "cache": {"enabled": True, "ttl_s": 600}}
    }
    gateway = start_gateway(gateway_config(routes, {"up": upstream.url}), folder)
    try:
        miss = load(gateway.url + "/v1", bodies(misses, unique=True), 1, gateway=True)
        load(gateway.url + "/v1", bodies(1), 1, gateway=True)  # store the repeated prompt
        time.sleep(0.2)  # let the waitUntil cache write land
        hit = load(gateway.url + "/v1", bodies(hits), 1, gateway=True)
    finally:
        gateway.close()
        upstream.close()
    return {
        "upstream_ms": latency_ms,
        "miss_p50": miss.pct(0.5),
        "miss_p99": miss.pct(0.99),
        "hit_p50": hit.pct(0.5),
        "hit_p99": hit.pct(0.99),
        "speedup_p50": miss.pct(0.5) / hit.pct(0.5),
        "misses": misses,
        "hits": hits,
    }


def availability(
    folder: Path, latency_ms: float, requests: int, concurrency: int, strategy: str
) -> dict[str, Any]:
    flaky = Child("serve-upstream", "--latency-ms", str(latency_ms), "--failure-rate", "0.3", "--seed", "11")
    healthy = Child("serve-upstream", "--latency-ms", str(latency_ms))
    candidates = [{"provider": "flaky", "model": "m"}, {"provider": "healthy", "model": "m"}]
    routes = {
        "bench": {
            "strategy": strategy,
            "candidates": candidates,
            "retry": {"max_attempts": 3, "base_delay_ms": 50},
        }
    }
    gateway = start_gateway(gateway_config(routes, {"flaky": flaky.url, "healthy": healthy.url}), folder)
    try:
        direct = load(flaky.url, bodies(requests, model="m"), concurrency, gateway=False)
        through = load(gateway.url + "/v1", bodies(requests), concurrency, gateway=True)
    finally:
        gateway.close()
        flaky.close()
        healthy.close()
    return {
        "strategy": strategy,
        "requests": requests,
        "direct_success": direct.ok / requests,
        "gateway_success": through.ok / requests,
        "mean_attempts": statistics.fmean(through.attempts),
        "max_attempts": max(through.attempts),
        "gateway_p50": through.pct(0.5),
        "gateway_p99": through.pct(0.99),
    }


# ---------------------------------------------------------------- report


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def budgets(folder: Path, requests: int, rounds: int) -> dict[str, Any]:
    upstream = Child("serve-upstream", "--latency-ms", "1")
    routes = {"bench": {"candidates": [{"provider": "up", "model": "m"}]}}
    with_budgets = {
        "budget_binding": "BUDGETS",
        "budgets": {
            "per-key": {"scope": "key", "limit_usd": 1e6, "window": "day"},
            "stack": {"scope": "stack", "limit_usd": 1e6, "window": "month"},
        },
    }
    plain = start_gateway(gateway_config(routes, {"up": upstream.url}), folder)
    budgeted = start_gateway(gateway_config(routes, {"up": upstream.url}, **with_budgets), folder)
    cpu = {"plain": 0.0, "budgeted": 0.0}
    served = {"plain": 0, "budgeted": 0}
    objects: dict[str, Any] = {}
    try:
        for child in (plain, budgeted):
            load(child.url + "/v1", bodies(20), 1, gateway=True)  # warm-up
        for _ in range(rounds):
            for name, child in (("plain", plain), ("budgeted", budgeted)):
                before = _cpu_seconds(child.process.pid)
                run = load(child.url + "/v1", bodies(requests // rounds), 1, gateway=True)
                time.sleep(0.2)  # the settlements run in waitUntil after the responses
                cpu[name] += _cpu_seconds(child.process.pid) - before
                served[name] += run.ok
    finally:
        plain.close()
        objects = budgeted.close()
        upstream.close()
    per_plain = 1000 * cpu["plain"] / max(1, served["plain"])
    per_budgeted = 1000 * cpu["budgeted"] / max(1, served["budgeted"])
    # the warm-up's object calls are in the objects' total too: spread over every budgeted request
    per_objects = 1000 * objects.get("objects_cpu_s", 0.0) / max(1, served["budgeted"] + 20)
    worker = per_budgeted - per_objects
    return {
        "requests": served["budgeted"],
        "cpu_ms_plain": per_plain,
        "cpu_ms_budgeted": per_budgeted,
        "cpu_ms_objects": per_objects,
        "object_requests": objects.get("objects_requests", 0),
        "added_ms": per_budgeted - per_plain,
        "added_worker_ms": worker - per_plain,
    }


def render(results: dict[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        f"`python bench/gateway.py` on {results['machine']}. Measured through the in-process CPython harness "
        "(`tests/harness`: asyncio + h11 server, keep-alive h11 fetcher, KV/D1/rate-limit fakes; usage records "
        "written through waitUntil), with the gateway, each loopback upstream (`tests/fakes/llm_upstreams.py`) and the "
        "clients (a minimal asyncio HTTP/1.1 client, keep-alive) in separate processes. Every gateway request carries a virtual key and passes the "
        "rate-limit binding; non-streaming requests. To be re-measured through the local runtime "
        "(`edgestack dev`, Pyodide) when it lands.",
        "",
        "Overhead (gateway vs direct calls to the same upstream):",
        "",
        "| upstream | clients | requests | direct p50 | gateway p50 | p50 ratio | p50 overhead | direct p99 "
        "| gateway p99 | p99 ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["overhead"]:
        lines.append(
            f"| {row['upstream_ms']:.0f} ms | {row['concurrency']} | {row['requests']} | {row['direct_p50']:.1f} ms "
            f"| {row['gateway_p50']:.1f} ms | {row['ratio_p50']:.3f} | {row['overhead_p50_ms']:+.1f} ms "
            f"({100 * row['overhead_p50_ms'] / row['upstream_ms']:.1f}% of upstream) | {row['direct_p99']:.1f} ms "
            f"| {row['gateway_p99']:.1f} ms | {row['ratio_p99']:.3f} |"
        )
    c = results["cache"]
    lines += [
        "",
        f"Cache ({c['upstream_ms']:.0f} ms upstream, 1 client): miss p50 {c['miss_p50']:.1f} ms / p99 "
        f"{c['miss_p99']:.1f} ms ({c['misses']} unique prompts); hit p50 {c['hit_p50']:.1f} ms / p99 "
        f"{c['hit_p99']:.1f} ms ({c['hits']} repeats); hits are {c['speedup_p50']:.0f}x faster at p50.",
        "",
        "Availability (upstream A fails 30% of requests with 503, upstream B healthy; retry budget 3 attempts):",
        "",
        "| route strategy | requests | direct to A: success | through the gateway: success | mean attempts "
        "| max attempts | gateway p50 | gateway p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["availability"]:
        lines.append(
            f"| {row['strategy']} | {row['requests']} | {100 * row['direct_success']:.1f}% "
            f"| {100 * row['gateway_success']:.2f}% | {row['mean_attempts']:.2f} | {row['max_attempts']} "
            f"| {row['gateway_p50']:.1f} ms | {row['gateway_p99']:.1f} ms |"
        )
    b = results.get("budgets")
    if b:
        lines += [
            "",
            f"Budgets (1 ms upstream, 1 client, {b['requests']} requests each, interleaved; a key and a stack "
            f"budget, so two reservations and two settlements per request, {b['object_requests']} object "
            f"requests): gateway process CPU {b['cpu_ms_plain']:.2f} ms per request without budgets, "
            f"{b['cpu_ms_budgeted']:.2f} ms with them ({b['added_ms']:+.2f} ms), of which "
            f"{b['cpu_ms_objects']:.2f} ms inside the BudgetCounter objects (here in the same process; on "
            f"Cloudflare their own isolates). The Worker's own share: {b['added_worker_ms']:+.2f} ms per "
            "request (target: under +1 ms; a difference of measured totals, read at the kernel's 10 ms CPU ticks, "
            "so it carries their noise); each reservation and settlement is also a round trip to an object.",
        ]
    lines += [
        "",
        f"Targets: p50 overhead under 5% of a 100 ms upstream; 100% success while a healthy candidate "
        f"exists. Run took {results['seconds']:.0f} s.",
        "",
        "Reading the figures: the 1-client rows are the per-request cost of the gateway path (auth, "
        "rate limit, routing, an extra loopback hop through a Python HTTP stack, the usage record). "
        "With 32 clients the gateway is one single-threaded CPython process sharing two cores with the "
        "upstream and the clients, so against a 10 ms upstream it is CPU-bound and requests queue; that "
        "row varies most between runs. On Cloudflare each request runs in its own isolate.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    up = sub.add_parser("serve-upstream")
    up.add_argument("--latency-ms", type=float, default=100.0)
    up.add_argument("--failure-rate", type=float, default=0.0)
    up.add_argument("--seed", type=int, default=7)
    gw = sub.add_parser("serve-gateway")
    gw.add_argument("config")
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.command == "serve-upstream":
        serve_upstream(args.latency_ms, args.failure_rate, args.seed)
        return 0
    if args.command == "serve-gateway":
        serve_gateway(args.config)
        return 0

    scale = 0.25 if args.quick else 1.0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plan = [(100.0, 1, 80), (100.0, 32, 960), (10.0, 1, 300), (10.0, 32, 1920)]
        results["overhead"] = []
        for latency, concurrency, requests in plan:
            row = overhead(
                folder, latency, concurrency, max(4 * concurrency, int(requests * scale)), rounds=4
            )
            results["overhead"].append(row)
            print(json.dumps(row), file=sys.stderr)
        results["cache"] = cache(
            folder, 100.0, misses=max(10, int(40 * scale)), hits=max(20, int(200 * scale))
        )
        print(json.dumps(results["cache"]), file=sys.stderr)
        results["availability"] = [
            availability(folder, 10.0, max(200, int(1000 * scale)), 16, strategy)
            for strategy in ("fallback", "weighted")
        ]
        for row in results["availability"]:
            print(json.dumps(row), file=sys.stderr)
        results["budgets"] = budgets(folder, max(200, int(1000 * scale)), rounds=4)
        print(json.dumps(results["budgets"]), file=sys.stderr)
    results["seconds"] = time.perf_counter() - started
    text = render(results)
    publish(SECTION, text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
