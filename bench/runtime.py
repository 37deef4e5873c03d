"""Benchmark of the local edge runtime (`edgestack dev`), in one run, on the same host code:

- the project's Worker (worker_src on stacks/local.yaml) against a hello-world Python Worker
  (the `workers` SDK and nothing else) with a KV namespace and a D1 database;
- start -> first 200 (bundle, plan, Node host, Pyodide, import, D1 migrations, first request);
- requests/s and p50/p99 latency for a trivial route (hello-world `/`, project `/healthz`) and for a
  route doing one KV read + one D1 query (hello-world `/kv-d1`);
- import time of the main module under Pyodide (the host times `import entry`), project vs
  hello-world (difference and ratio); the project's target is at most 50 ms more than hello-world;
- latency of the first and second `/v1/models` request after start (what a lazily imported gateway
  moves out of the import and into the first `/v1` request of an isolate);
- the per-module split of the project's import (top 10 by self time, compile vs execute), from
  `bench/import_profile.py`.

`--variant DIR` also measures another worker_src tree (e.g. a copy with a changed router) in the same
run, alternating with the others, so a change is compared against the same baseline.

Usage: `python bench/runtime.py [--starts 3] [--requests 400] [--concurrency 8] [--variant DIR]
[--no-write]`. Writes the "runtime" section of docs/benchmarks.md unless `--no-write` (other
sections are kept).
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

from bench.benchdocs import publish  # noqa: E402
from bench.import_profile import (  # noqa: E402
    ModuleTiming,
    median_modules,
    profile_trees,
    render_definition_costs,
)
from infra.dev.session import DevOptions, DevSession  # noqa: E402

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
    v1_first_ms: float = 0.0  # first /v1/models after start (project trees only)
    v1_second_ms: float = 0.0


@dataclass(frozen=True)
class TreeResult:
    """One worker_src tree measured on stacks/local.yaml."""

    label: str
    start: StartResult  # medians
    import_samples: list[float]
    modules: list[ModuleTiming]  # import profile, medians, by self time


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


def _timed_get(url: str) -> float:
    started = time.perf_counter()
    response = httpx.get(url, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.text[:200]}")
    return elapsed


def _start(
    stack: Path, worker_src: Path, state: Path, first_path: str, v1_path: str | None = None
) -> tuple[DevSession, str, StartResult]:
    started = time.perf_counter()
    session = _session(stack, worker_src, state)
    ready = session.start(announce=False)
    try:
        _timed_get(ready.url + first_path)
        first_200 = time.perf_counter() - started
        v1_first = _timed_get(ready.url + v1_path) if v1_path else 0.0
        v1_second = _timed_get(ready.url + v1_path) if v1_path else 0.0
    except BaseException:
        session.close()
        raise
    timings = ready.timings
    result = StartResult(
        first_200,
        timings.get("pyodideLoadMs", 0),
        timings.get("sdkImportMs", 0),
        timings.get("entryImportMs", 0),
        v1_first,
        v1_second,
    )
    return session, ready.url, result


def _median_start(results: list[StartResult]) -> StartResult:
    return StartResult(
        statistics.median(r.first_200_s for r in results),
        statistics.median(r.pyodide_ms for r in results),
        statistics.median(r.sdk_import_ms for r in results),
        statistics.median(r.import_ms for r in results),
        statistics.median(r.v1_first_ms for r in results),
        statistics.median(r.v1_second_ms for r in results),
    )


def _tree_label(tree: Path) -> str:
    return "project" if tree == ROOT / "worker_src" else f"variant {tree.name}"


def run(starts: int, requests: int, concurrency: int, variants: list[Path]) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="edgestack-bench-"))
    hello_src = work / "hello"
    hello_src.mkdir()
    (hello_src / "entry.py").write_text(HELLO_ENTRY)
    hello_stack = work / "hello.yaml"
    hello_stack.write_text(HELLO_STACK)
    project_stack = ROOT / "stacks" / "local.yaml"
    trees = [ROOT / "worker_src", *variants]

    hello_starts: list[StartResult] = []
    tree_starts: list[list[StartResult]] = [[] for _ in trees]
    loads: dict[str, LoadResult] = {}
    for attempt in range(starts):  # alternate, so machine noise hits all alike
        session, url, result = _start(hello_stack, hello_src, work / f"hello-state-{attempt}", "/")
        hello_starts.append(result)
        if attempt == 0:
            loads["hello /"] = asyncio.run(_load(url + "/", requests, concurrency))
            loads["hello /kv-d1"] = asyncio.run(_load(url + "/kv-d1", requests, concurrency))
        session.close()
        for index, tree in enumerate(trees):
            state = work / f"tree{index}-state-{attempt}"
            session, url, result = _start(project_stack, tree, state, "/healthz", "/v1/models")
            tree_starts[index].append(result)
            if attempt == 0 and index == 0:
                loads["project /healthz"] = asyncio.run(_load(url + "/healthz", requests, concurrency))
                loads["project /v1/models"] = asyncio.run(_load(url + "/v1/models", requests, concurrency))
            session.close()
    profiles = profile_trees(trees, starts, "314")
    load_average = os.getloadavg()[0]
    return {
        "load_average": load_average,
        "hello": _median_start(hello_starts),
        "hello_imports": [r.import_ms for r in hello_starts],
        "trees": [
            TreeResult(
                _tree_label(tree),
                _median_start(results),
                [r.import_ms for r in results],
                median_modules(runs),
            )
            for tree, results, runs in zip(trees, tree_starts, profiles, strict=True)
        ],
        "definition_costs": render_definition_costs([run for runs in profiles for run in runs]),
        "loads": loads,
        "starts": starts,
        "requests": requests,
        "concurrency": concurrency,
    }


def _ms_row(name: str, hello: str, values: list[str]) -> str:
    return f"| {name} | {hello} | {' | '.join(values)} |"


def render(results: dict[str, object]) -> str:
    hello: StartResult = results["hello"]  # type: ignore[assignment]
    trees: list[TreeResult] = results["trees"]  # type: ignore[assignment]
    loads: dict[str, LoadResult] = results["loads"]  # type: ignore[assignment]
    hello_imports: list[float] = results["hello_imports"]  # type: ignore[assignment]

    def verdict(extra: float) -> str:
        return "met" if extra <= 50 else "NOT met"

    lines = [
        SECTION,
        "",
        f"`python bench/runtime.py` (median of {results['starts']} starts each; {results['requests']} requests "
        f"per route at concurrency {results['concurrency']}; 2-core machine, 1-minute load average "
        f"{results['load_average']:.1f} at the end of the run; Pyodide 314, Node 20).",
        "",
        "| | hello-world Worker | " + " | ".join(f"{t.label} Worker" for t in trees) + " |",
        "|---|---:|" + "---:|" * len(trees),
        _ms_row(
            "start -> first 200",
            f"{hello.first_200_s:.2f} s",
            [
                f"{t.start.first_200_s:.2f} s ({t.start.first_200_s - hello.first_200_s:+.2f} s)"
                for t in trees
            ],
        ),
        _ms_row(
            "Pyodide load (in the host)",
            f"{hello.pyodide_ms:.0f} ms",
            [f"{t.start.pyodide_ms:.0f} ms" for t in trees],
        ),
        _ms_row(
            "import of `workers` (the SDK)",
            f"{hello.sdk_import_ms:.0f} ms",
            [f"{t.start.sdk_import_ms:.0f} ms" for t in trees],
        ),
        _ms_row(
            "import of entry.py under Pyodide (after the SDK)",
            f"{hello.import_ms:.1f} ms",
            [f"{t.start.import_ms:.0f} ms" for t in trees],
        ),
        _ms_row(
            "entry.py import beyond hello-world (target <= +50 ms)",
            "",
            [
                f"{t.start.import_ms - hello.import_ms:+.0f} ms, {verdict(t.start.import_ms - hello.import_ms)}"
                for t in trees
            ],
        ),
        _ms_row(
            "entry.py import / hello-world's",
            "1x",
            [f"{t.start.import_ms / max(hello.import_ms, 0.1):.0f}x" for t in trees],
        ),
        _ms_row("first `/v1/models` after start", "", [f"{t.start.v1_first_ms:.0f} ms" for t in trees]),
        _ms_row("second `/v1/models`", "", [f"{t.start.v1_second_ms:.0f} ms" for t in trees]),
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
        f"Import samples (ms): hello-world {', '.join(f'{v:.1f}' for v in hello_imports)}; "
        + "; ".join(f"{t.label} {', '.join(f'{v:.0f}' for v in t.import_samples)}" for t in trees)
        + ".",
        "The host imports `workers` first and times it separately, so the entry.py row is each Worker's own",
        "import cost. The first `/v1/models` after start also pays one-time work that any tree has (parsing",
        "the gateway config, first calls across the JS bridge); the difference between trees is the import",
        "moved out of start-up.",
        "",
        "Cloudflare and this cost: the stacks' default flags do not include `python_dedicated_snapshot` (the",
        "flag for a memory snapshot taken after the top level runs at upload), so as we read the documentation",
        "the Worker's own modules are imported when an isolate starts, and every eager import adds to each",
        "cold start (and counts against the 1 s startup limit). With `python_dedicated_snapshot`, the top",
        "level runs at upload and is restored from the memory snapshot, so eager imports are paid at deploy",
        "and a lazy import is the worse choice: it is then paid by the first `/v1` request of every isolate.",
    ]
    for tree in trees:
        worker = [m for m in tree.modules if m.kind == "worker"]
        lines += [
            "",
            f"Where the {tree.label} import goes (`bench/import_profile.py`, same run, median of "
            f"{results['starts']} starts, with a timing hook that adds a little): Worker modules "
            f"{sum(m.self_ms for m in worker):.0f} ms, of which compiling source "
            f"{sum(m.compile_ms for m in worker):.0f} ms and executing module bodies "
            f"{sum(m.exec_ms for m in worker):.0f} ms; stdlib modules not already imported by the SDK: "
            + (
                ", ".join(
                    f"{m.name} {m.self_ms:.1f} ms"
                    for m in tree.modules
                    if m.kind == "stdlib" and m.self_ms >= 0.5
                )
                or "none"
            )
            + ".",
            "",
            "| module (top 10 by self time) | self | compile | execute | inclusive |",
            "|---|---:|---:|---:|---:|",
        ]
        for m in tree.modules[:10]:
            lines.append(
                f"| {m.name} | {m.self_ms:.1f} ms | {m.compile_ms:.1f} ms | {m.exec_ms:.1f} ms | {m.inclusive_ms:.1f} ms |"
            )
    lines += ["", str(results["definition_costs"]), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--variant",
        type=Path,
        action="append",
        default=[],
        help="another worker_src tree to measure alongside",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = render(run(args.starts, args.requests, args.concurrency, [v.resolve() for v in args.variant]))
    publish(SECTION, text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
