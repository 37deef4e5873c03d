"""The Worker's own CPU per request on the local runtime (`edgestack dev`), per route, in one run.

Three figures per route, each the growth of a counter over N sequential requests divided by N:

- **Worker**: CPU (`process.cpuUsage()`) inside the Worker's asyncio handles
  (runtime/lib/python/_edgestack_host.py): its Python and the Pyodide/JS glue it calls synchronously (request/response conversion, binding calls'
  JS side), and nothing of the host's HTTP server or the storage processes, which run between
  handles. This is the figure Cloudflare's CPU limit applies to, measured on this machine.
- **host**: the whole Node host process (`process.cpuUsage()`): the Worker plus Pyodide's loop, the
  host's HTTP server and Miniflare's client.
- **storage**: the host's child processes (workerd under Miniflare: KV, D1), from /proc.

Routes: a hello-world Python Worker (`/`, the floor), the project's `/healthz`, a plain chat
completion (OpenAI-compatible upstream), a streamed chat completion translated from an Anthropic
upstream, the Responses API (plain and streamed-translated) and a Workers AI embedding. The loopback
fake upstreams (tests/fakes/llm_upstreams.py) answer at once. Then the gateway overhead: p50 of the
same chat request through the runtime minus straight to a 100 ms upstream, sequential.

`--variant DIR` measures another worker_src tree in the same run (alternating batches), so a change
is compared against the tree before it under the same machine load.

Usage: `python bench/worker_cpu.py [--requests 200] [--batches 3] [--variant DIR] [--no-write]`.
Writes the "worker cpu" section of docs/benchmarks.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT / "tests" / "gateway", ROOT / "tests", ROOT / "worker_src", ROOT):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from gateway_testing import SECRETS, Upstreams, route, section  # noqa: E402
from harness.planned import local_stack_doc  # noqa: E402

from bench.benchdocs import publish  # noqa: E402
from bench.runtime import HELLO_ENTRY, HELLO_STACK, _session  # noqa: E402

SECTION = "## worker cpu"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TARGETS_MS = {
    "chat": 2.0,
    "chat stream (translated)": 3.0,
    "responses": 3.0,
    "responses stream (translated)": 3.0,
}

Request = Callable[[httpx.Client, str], None]


def _post(path: str, body: dict[str, Any]) -> Request:
    def send(client: httpx.Client, base: str) -> None:
        with client.stream("POST", base + path, json=body) as reply:
            reply.read()
            if reply.status_code != 200:
                raise SystemExit(f"{path} answered {reply.status_code}: {reply.text[:300]}")

    return send


def _get(path: str) -> Request:
    def send(client: httpx.Client, base: str) -> None:
        reply = client.get(base + path)
        if reply.status_code != 200:
            raise SystemExit(f"{path} answered {reply.status_code}")

    return send


USER = [{"role": "user", "content": "Say hello to the benchmark."}]
ROUTES: dict[str, Request] = {
    "/healthz": _get("/healthz"),
    "chat": _post("/v1/chat/completions", {"model": "plain", "messages": USER, "max_tokens": 32}),
    "chat stream (translated)": _post(
        "/v1/chat/completions", {"model": "translated", "messages": USER, "max_tokens": 32, "stream": True}
    ),
    "responses": _post("/v1/responses", {"model": "plain", "input": "Say hello to the benchmark."}),
    "responses stream (translated)": _post(
        "/v1/responses", {"model": "translated", "input": "Say hello to the benchmark.", "stream": True}
    ),
    "embedding (Workers AI)": _post(
        "/v1/embeddings", {"model": "@cf/baai/bge-small-en-v1.5", "input": ["one text", "another text"]}
    ),
}


@dataclass(frozen=True)
class Cpu:
    worker_ms: float
    worker_wall_ms: float
    host_ms: float
    storage_ms: float
    handles: float
    wall_ms: float


def _status(client: httpx.Client, base: str) -> dict[str, Any]:
    cpu: dict[str, Any] = client.get(base + "/__edgestack/status").json()["workerCpu"]
    return cpu


def _children_cpu_ms(pid: int) -> float:
    """CPU of every live descendant of `pid` (workerd under Miniflare), from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        for child, parent in parents.items():
            if parent == current:
                total += times[child]
                stack.append(child)
    return total


def measure(base: str, send: Request, requests: int) -> Cpu:
    with httpx.Client(timeout=30) as client:
        for _ in range(10):
            send(client, base)
        time.sleep(0.3)  # let waitUntil work of the warm-up finish
        before = _status(client, base)
        storage_before = _children_cpu_ms(before["pid"])
        walls = []
        for _ in range(requests):
            started = time.perf_counter()
            send(client, base)
            walls.append((time.perf_counter() - started) * 1000)
        time.sleep(0.3)  # the last request's waitUntil work (usage record) belongs to the batch
        after = _status(client, base)
        storage_after = _children_cpu_ms(before["pid"])
    return Cpu(
        (after["workerMs"] - before["workerMs"]) / requests,
        (after["workerWallMs"] - before["workerWallMs"]) / requests,
        (after["hostMs"] - before["hostMs"]) / requests,
        (storage_after - storage_before) / requests,
        (after["handles"] - before["handles"]) / requests,
        statistics.median(walls),
    )


def _median(samples: list[Cpu]) -> Cpu:
    return Cpu(*(statistics.median(getattr(s, f) for s in samples) for f in Cpu.__dataclass_fields__))


def _project_stack(folder: Path, upstreams: Upstreams) -> Path:
    """stacks/local.yaml with a gateway section over the fake upstreams (no RAG, no agents)."""
    routes = {"plain": route(("oa", "gpt-a")), "translated": route(("an", "claude-c"))}
    doc = local_stack_doc(
        {"gateway": section(upstreams, routes, response_store={"binding": "DB"})}, tuple(SECRETS)
    )
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _overhead(base: str, upstream: str, requests: int) -> tuple[float, float]:
    """p50 straight to the 100 ms upstream, and through the runtime (sequential)."""
    body = {"model": "gpt-a", "messages": USER, "max_tokens": 32}
    results = []
    with httpx.Client(timeout=30) as client:
        for url, auth, model in (
            (upstream + "/chat/completions", SECRETS["OA_KEY"], "gpt-a"),
            (base + "/v1/chat/completions", "anonymous", "plain"),
        ):
            walls = []
            for index in range(requests + 5):
                started = time.perf_counter()
                reply = client.post(
                    url, json={**body, "model": model}, headers={"authorization": f"Bearer {auth}"}
                )
                if reply.status_code != 200:
                    raise SystemExit(f"{url} answered {reply.status_code}: {reply.text[:200]}")
                if index >= 5:
                    walls.append((time.perf_counter() - started) * 1000)
            results.append(statistics.median(walls))
    return results[0], results[1]


def run(requests: int, batches: int, variants: list[Path]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="edgestack-cpu-"))
    os.environ.update(SECRETS)
    hello_src = work / "hello"
    hello_src.mkdir()
    (hello_src / "entry.py").write_text(HELLO_ENTRY)
    (work / "hello.yaml").write_text(HELLO_STACK)
    trees = [ROOT / "worker_src", *variants]
    samples: dict[tuple[str, str], list[Cpu]] = {}
    overhead: dict[str, tuple[float, float]] = {}
    with Upstreams.running() as upstreams:
        stack = _project_stack(work, upstreams)
        sessions = []
        hello = _session(work / "hello.yaml", hello_src, work / "hello-state")
        sessions.append(("hello-world", hello, hello.start(announce=False).url))
        for index, tree in enumerate(trees):
            session = _session(stack, tree, work / f"tree{index}-state")
            label = "project" if index == 0 else f"variant {tree.name}"
            sessions.append((label, session, session.start(announce=False).url))
        try:
            for _ in range(batches):  # alternate trees within each batch: machine noise hits all alike
                for label, _, url in sessions:
                    if label == "hello-world":
                        samples.setdefault((label, "/"), []).append(measure(url, _get("/"), requests))
                        continue
                    for name, send in ROUTES.items():
                        samples.setdefault((label, name), []).append(measure(url, send, requests))
            with httpx.Client() as client:
                meter_us = _status(client, sessions[1][2])["meterUs"]
            upstreams.oa.configure(latency_ms=100.0)
            for label, _, url in sessions[1:]:
                overhead[label] = _overhead(url, upstreams.oa.base_url, max(30, requests // 4))
        finally:
            for _, session, _ in sessions:
                session.close()
    return {
        "cpu": {key: _median(values) for key, values in samples.items()},
        "overhead": overhead,
        "meter_us": meter_us,
        "labels": [label for label, _, _ in sessions],
        "requests": requests,
        "batches": batches,
        "load_average": os.getloadavg()[0],
    }


def render(results: dict[str, Any]) -> str:
    cpu: dict[tuple[str, str], Cpu] = results["cpu"]
    hello = cpu[("hello-world", "/")]
    trees = [label for label in results["labels"] if label != "hello-world"]
    lines = [
        SECTION,
        "",
        f"`python bench/worker_cpu.py` on Linux x86_64, {os.cpu_count()} CPUs, 1-minute load average "
        f"{results['load_average']:.1f} at the end. The local runtime (`edgestack dev`, Pyodide 314); "
        f"per route the median of {results['batches']} batches of {results['requests']} sequential requests, "
        "trees and the hello-world Worker alternating; loopback fake upstreams answering at once.",
        "",
        "- **Worker**: CPU (`process.cpuUsage()`) inside the Worker's asyncio handles: its Python plus the "
        "Pyodide/JS glue it calls synchronously, apart from the host's HTTP server and storage. The figure "
        "Cloudflare's CPU limit applies to, measured on this machine. **Worker wall**: the same handles' "
        "wall time (higher when the machine is busy).",
        f"  Reading the CPU costs {results['meter_us']:.1f} µs, about once per handle inside the measured "
        "window; that is taken out.",
        "- **host**: the whole Node host process (Worker, Pyodide's loop, HTTP server, Miniflare's client).",
        "- **storage**: workerd under Miniflare (KV, D1), from /proc.",
        "",
        f"Hello-world Python Worker, `/`: Worker {hello.worker_ms:.2f} ms, host {hello.host_ms:.2f} ms, "
        f"storage {hello.storage_ms:.2f} ms, {hello.handles:.0f} handles per request.",
        "",
    ]
    project = trees[0]
    lines += [
        f"**{project}** (this tree)",
        "",
        "| route | Worker CPU | vs hello-world | target | Worker wall | host CPU | storage CPU | handles | request p50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ROUTES:
        c = cpu[(project, name)]
        target = f"< {TARGETS_MS[name]:.0f} ms" if name in TARGETS_MS else ""
        lines.append(
            f"| {name} | {c.worker_ms:.2f} ms | +{c.worker_ms - hello.worker_ms:.2f} ms | {target} | "
            f"{c.worker_wall_ms:.2f} ms | {c.host_ms:.2f} ms | {c.storage_ms:.2f} ms | {c.handles:.0f} | {c.wall_ms:.1f} ms |"
        )
    if len(trees) > 1:
        oldest_first = trees[::-1]  # `--variant` lists earlier trees, newest first
        lines += [
            "",
            "Worker CPU per request of each tree in this run, oldest first; in parentheses what that tree's "
            "change saved against the tree before it:",
            "",
            "| route | " + " | ".join(oldest_first) + " |",
            "|---|" + "---|" * len(oldest_first),
        ]
        for name in ROUTES:
            cells = []
            for index, tree in enumerate(oldest_first):
                value = cpu[(tree, name)].worker_ms
                saved = cpu[(oldest_first[index - 1], name)].worker_ms - value if index else None
                cells.append(f"{value:.2f} ms" + (f" ({saved:+.2f})" if saved is not None else ""))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Gateway overhead on a 100 ms upstream (sequential, p50; target < 3 ms):", ""]
    for label in trees:
        direct, through = results["overhead"][label]
        lines.append(
            f"- {label}: direct {direct:.1f} ms, through the runtime {through:.1f} ms, **+{through - direct:.1f} ms**"
        )
    lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--variant", type=Path, action="append", default=[])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = run(args.requests, args.batches, [v.resolve() for v in args.variant])
    publish(SECTION, render(results), write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
