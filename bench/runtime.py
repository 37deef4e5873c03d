"""Benchmark of the local edge runtime (`edgestack dev`), in one run, on the same host code:

- the project's Worker (worker_src on stacks/local.yaml) against a hello-world Python Worker
  (the `workers` SDK and nothing else) with a KV namespace and a D1 database;
- start -> first 200 (bundle, plan, Node host, Pyodide, import, D1 migrations, first request);
- requests/s and p50/p99 latency for a trivial route (hello-world `/`, project `/healthz`) and for a
  route doing one KV read + one D1 query (hello-world `/kv-d1`);
- import time of the main module under Pyodide (the host times `import entry`), project vs
  hello-world; the project's target is at most 50 ms more than hello-world.

Usage: `python bench/runtime.py [--starts 3] [--requests 400] [--concurrency 8] [--no-write]`.
Writes the "runtime" section of docs/benchmarks.md unless `--no-write` (other sections are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.dev.session import DevOptions, DevSession  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## runtime"

HELLO_STACK = """\
account_id: "00000000000000000000000000000000"
name_prefix: hello
environment: local
worker:
  name: api
  compatibility_date: 2026-11-01
  python: "3.14"
bindings:
  kv:
    STORE: {}
  d1:
    DB: {}
"""

HELLO_ENTRY = """\
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/kv-d1"):
            value = await self.env.STORE.get("key")
            row = await self.env.DB.prepare("SELECT ?1 AS v").bind(value or "none").first()
            return Response(row.v)
        return Response("hello")
"""


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class StartResult:
    first_200_s: float
    pyodide_ms: float
    sdk_import_ms: float
    import_ms: float


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def _load(url: str, total: int, concurrency: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        for _ in range(20):  # warm up connections and the Worker
            await client.get(url)

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(total / elapsed, _percentile(latencies, 0.5), _percentile(latencies, 0.99), errors)


def _session(stack: Path, worker_src: Path, state: Path) -> DevSession:
    return DevSession(
        DevOptions(
            stack=str(stack),
            port=0,
            state_dir=state,
            worker_src=worker_src,
            auto_install=False,
            embedder="hashing",
            log_file=state.parent / f"{state.name}.log",
        ),
        out=lambda text: None,
    )


def _start(stack: Path, worker_src: Path, state: Path, first_path: str) -> tuple[DevSession, str, StartResult]:
    started = time.perf_counter()
    session = _session(stack, worker_src, state)
    ready = session.start(announce=False)
    response = httpx.get(ready.url + first_path, timeout=60)
    first_200 = time.perf_counter() - started
    if response.status_code != 200:
        session.close()
        raise SystemExit(f"{first_path} answered {response.status_code}: {response.text[:200]}")
    timings = ready.timings
    result = StartResult(
        first_200, timings.get("pyodideLoadMs", 0), timings.get("sdkImportMs", 0), timings.get("entryImportMs", 0)
    )
    return session, ready.url, result


def _median_start(results: list[StartResult]) -> StartResult:
    return StartResult(
        statistics.median(r.first_200_s for r in results),
        statistics.median(r.pyodide_ms for r in results),
        statistics.median(r.sdk_import_ms for r in results),
        statistics.median(r.import_ms for r in results),
    )


def run(starts: int, requests: int, concurrency: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="edgestack-bench-"))
    hello_src = work / "hello"
    hello_src.mkdir()
    (hello_src / "entry.py").write_text(HELLO_ENTRY)
    hello_stack = work / "hello.yaml"
    hello_stack.write_text(HELLO_STACK)
    project_stack = ROOT / "stacks" / "local.yaml"

    hello_starts: list[StartResult] = []
    project_starts: list[StartResult] = []
    loads: dict[str, LoadResult] = {}
    for attempt in range(starts):  # alternate, so machine noise hits both alike
        session, url, result = _start(hello_stack, hello_src, work / f"hello-state-{attempt}", "/")
        hello_starts.append(result)
        if attempt == 0:
            loads["hello /"] = asyncio.run(_load(url + "/", requests, concurrency))
            loads["hello /kv-d1"] = asyncio.run(_load(url + "/kv-d1", requests, concurrency))
        session.close()
        session, url, result = _start(project_stack, ROOT / "worker_src", work / f"project-state-{attempt}", "/healthz")
        project_starts.append(result)
        if attempt == 0:
            loads["project /healthz"] = asyncio.run(_load(url + "/healthz", requests, concurrency))
        session.close()
    return {
        "load_average": os.getloadavg()[0],
        "hello": _median_start(hello_starts),
        "project": _median_start(project_starts),
        "hello_imports": [r.import_ms for r in hello_starts],
        "project_imports": [r.import_ms for r in project_starts],
        "loads": loads,
        "starts": starts,
        "requests": requests,
        "concurrency": concurrency,
    }


def render(results: dict[str, object]) -> str:
    hello: StartResult = results["hello"]  # type: ignore[assignment]
    project: StartResult = results["project"]  # type: ignore[assignment]
    loads: dict[str, LoadResult] = results["loads"]  # type: ignore[assignment]
    extra = project.import_ms - hello.import_ms
    lines = [
        SECTION,
        "",
        f"`python bench/runtime.py` (median of {results['starts']} starts each; {results['requests']} requests "
        f"per route at concurrency {results['concurrency']}; 2-core machine, 1-minute load average "
        f"{results['load_average']:.1f} at the end of the run; Pyodide 314, Node 20).",
        "",
        "| | hello-world Worker | project Worker | difference |",
        "|---|---:|---:|---:|",
        f"| start -> first 200 | {hello.first_200_s:.2f} s | {project.first_200_s:.2f} s | "
        f"{project.first_200_s - hello.first_200_s:+.2f} s |",
        f"| Pyodide load (in the host) | {hello.pyodide_ms:.0f} ms | {project.pyodide_ms:.0f} ms | |",
        f"| import of `workers` (the SDK) | {hello.sdk_import_ms:.0f} ms | {project.sdk_import_ms:.0f} ms | |",
        f"| import of entry.py under Pyodide (after the SDK) | {hello.import_ms:.0f} ms | {project.import_ms:.0f} ms | "
        f"{extra:+.0f} ms (target <= +50 ms: {'met' if extra <= 50 else 'NOT met'}) |",
        "",
        "| route | req/s | p50 | p99 | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for route, load in loads.items():
        lines.append(
            f"| {route} | {load.requests_per_s:.0f} | {load.p50_ms:.1f} ms | {load.p99_ms:.1f} ms | {load.errors} |"
        )
    lines += [
        "",
        f"Import samples (ms): hello-world {', '.join(f'{v:.0f}' for v in results['hello_imports'])}; "  # type: ignore[attr-defined]
        f"project {', '.join(f'{v:.0f}' for v in results['project_imports'])}.",  # type: ignore[attr-defined]
        "The host imports `workers` first and times it separately, so the entry.py row is each Worker's own",
        "import cost. Cloudflare snapshots memory after the top level runs, so production cold starts pay",
        "less than this; the local runtime imports on every start.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    existing = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    lines = existing.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        updated = "".join(lines[:start]) + text + ("\n" if end < len(lines) else "") + "".join(lines[end:])
    DOCS.write_text(updated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = render(run(args.starts, args.requests, args.concurrency))
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"wrote the runtime section of {DOCS.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
