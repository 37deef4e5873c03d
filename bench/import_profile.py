"""Where the Worker's import time goes under Pyodide, per module, split into compile and execution.

Runs the real local host (`runtime/lib/python-runtime.mjs`, Pyodide 314 by default, the SDK
imported first exactly as `edgestack dev` does) on the same bundle `pulumi up` uploads, but with a
profiling main module that installs a timing meta-path finder and then imports `entry`:

- inclusive and self time of every module imported by `entry` (self = inclusive minus its imports);
- for source modules, the time spent in `compile()` (Cloudflare strips `.pyc`, and the local host
  starts from a fresh file system, so every bundle module is compiled from source on import); the
  stdlib inside Pyodide is precompiled, so its compile column is empty;
- which stdlib modules `entry` pulls in beyond what the SDK already imported (hello-world's set).

The finder itself adds a little per module, so totals are somewhat above the unprofiled
`entryImportMs` that `bench/runtime.py` reports; use this for the split, that for the headline.

Usage: `python bench/import_profile.py [--runs 3] [--top 25] [--pyodide 314|0.28] [--worker-src DIR ...]
[--json]`; several `--worker-src` trees are profiled in alternation (compare a change in one run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.dev.bundle_dir import write_bundle  # noqa: E402
from infra.plan.bundle import load_bundle  # noqa: E402

PROFILE_MODULE = "_edgestack_import_profile"

# Runs inside Pyodide as the main module. Kept to modules the host has already imported (sys, time).
PROFILER_SOURCE = """\
import sys
import time

_before = set(sys.modules)
_stack = []  # [name, started, children_ms, compile_ms]
ROWS = []


class _TimedLoader:
    def __init__(self, loader, name):
        self._loader = loader
        self._name = name
        source_to_code = getattr(loader, "source_to_code", None)
        if source_to_code is not None and hasattr(loader, "__dict__"):
            def timed_source_to_code(data, path, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return source_to_code(data, path, *args, **kwargs)
                finally:
                    if _stack:
                        _stack[-1][3] += (time.perf_counter() - started) * 1000
            loader.source_to_code = timed_source_to_code

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        frame = [self._name, time.perf_counter(), 0.0, 0.0]
        _stack.append(frame)
        try:
            self._loader.exec_module(module)
        finally:
            _stack.pop()
            inclusive = (time.perf_counter() - frame[1]) * 1000
            if _stack:
                _stack[-1][2] += inclusive
            origin = getattr(module, "__file__", None) or ""
            ROWS.append([frame[0], inclusive, inclusive - frame[2], frame[3], origin])


class _TimingFinder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _TimedLoader(spec.loader, name)
                return spec
        return None


sys.meta_path.insert(0, _TimingFinder)
_started = time.perf_counter()
try:
    import entry  # noqa: F401
finally:
    TOTAL_MS = (time.perf_counter() - _started) * 1000
    sys.meta_path.remove(_TimingFinder)
NEW_MODULES = sorted(set(sys.modules) - _before)
BEFORE_MODULES = sorted(_before)


def _definition_costs():
    # ms to create one of each kind of definition a module body may contain (after the import)
    import collections
    import dataclasses
    import re
    from typing import NamedTuple, Protocol

    def typing_namedtuple(i):
        class Record(NamedTuple):
            a: int
            b: str = ""
            c: float = 0.0

    def collections_namedtuple(i):
        collections.namedtuple("Record", "a b c", defaults=("", 0.0))

    def dataclass(i):
        @dataclasses.dataclass
        class Record:
            a: int
            b: str = ""
            c: float = 0.0

    def protocol(i):
        class Reader(Protocol):
            async def get(self, key: str) -> str: ...
            async def put(self, key: str, value: str) -> None: ...

    def plain_slots_class(i):
        class Record:
            __slots__ = ("a", "b", "c")

            def __init__(self, a, b="", c=0.0):
                self.a, self.b, self.c = a, b, c

    def regex(i):
        re.compile(r"^[A-Za-z0-9._:-]{1,%d}$" % (64 + i))  # distinct patterns: no cache hits

    costs = {}
    for name, make in [
        ("typing.NamedTuple (3 fields)", typing_namedtuple),
        ("collections.namedtuple (3 fields)", collections_namedtuple),
        ("@dataclass (3 fields)", dataclass),
        ("typing.Protocol (2 methods)", protocol),
        ("plain class with __slots__ and __init__", plain_slots_class),
        ("re.compile (new pattern)", regex),
    ]:
        started = time.perf_counter()
        for i in range(20):
            make(i)
        costs[name] = (time.perf_counter() - started) * 1000 / 20
    return costs


def result_json():
    import json
    return json.dumps(
        {
            "total_ms": TOTAL_MS,
            "rows": ROWS,
            "new": NEW_MODULES,
            "before": BEFORE_MODULES,
            "definitions": _definition_costs(),
        }
    )
"""

NODE_SOURCE = """\
import { pathToFileURL } from "node:url";
const [runtimeModule, bundleDir, line, mainModule] = process.argv.slice(2);
const { startPython } = await import(pathToFileURL(runtimeModule).href);
const python = await startPython(
  { pyodideLine: line, bundleDir, mainModule, sourceLabel: "worker_src/", compatibilityFlags: [] },
  { env: {}, work: { track: (v) => v }, log: { worker: (l) => process.stderr.write(l + "\\n") } },
);
const result = JSON.parse(python.mainModule.result_json());
result.sdk_ms = python.timings.sdkImportMs;
result.entry_ms = python.timings.entryImportMs;
process.stdout.write(JSON.stringify(result));
"""


@dataclass(frozen=True)
class ModuleTiming:
    name: str
    inclusive_ms: float
    self_ms: float
    compile_ms: float
    kind: str  # "worker" (the bundle's own code), "stdlib", "sdk"

    @property
    def exec_ms(self) -> float:
        return self.self_ms - self.compile_ms


@dataclass(frozen=True)
class ProfileRun:
    entry_ms: float  # the host's own timing of importing the profiling module (includes the hook)
    sdk_ms: float
    modules: list[ModuleTiming]
    new_modules: list[str]
    before_modules: list[str]
    definition_ms: dict[str, float]  # cost of creating one class / pattern of each kind


def _kind(origin: str) -> str:
    if origin.startswith("/session/metadata/python_modules/"):
        return "sdk"
    if origin.startswith("/session/metadata/"):
        return "worker"
    return "stdlib"


def profile_once(bundle_dir: Path, line: str) -> ProfileRun:
    work = Path(tempfile.mkdtemp(prefix="edgestack-import-profile-"))
    try:
        run_dir = work / "bundle"
        shutil.copytree(bundle_dir, run_dir)
        (run_dir / f"{PROFILE_MODULE}.py").write_text(PROFILER_SOURCE)
        script = work / "profile.mjs"
        script.write_text(NODE_SOURCE)
        runtime_module = ROOT / "runtime" / "lib" / "python-runtime.mjs"
        done = subprocess.run(
            ["node", str(script), str(runtime_module), str(run_dir), line, f"{PROFILE_MODULE}.py"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"import_profile: the host failed: {done.stderr.strip().splitlines()[-1:]}")
        data = json.loads(done.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    modules = [ModuleTiming(n, inc, own, comp, _kind(origin)) for n, inc, own, comp, origin in data["rows"]]
    return ProfileRun(
        data["entry_ms"], data["sdk_ms"], modules, data["new"], data["before"], data["definitions"]
    )


def median_modules(runs: list[ProfileRun]) -> list[ModuleTiming]:
    names = {m.name: m.kind for run in runs for m in run.modules}
    merged = []
    for name, kind in names.items():
        samples = [m for run in runs for m in run.modules if m.name == name]
        merged.append(
            ModuleTiming(
                name,
                statistics.median(m.inclusive_ms for m in samples),
                statistics.median(m.self_ms for m in samples),
                statistics.median(m.compile_ms for m in samples),
                kind,
            )
        )
    return sorted(merged, key=lambda m: m.self_ms, reverse=True)


def render(runs: list[ProfileRun], top: int, line: str) -> str:
    modules = median_modules(runs)
    by_kind: dict[str, list[ModuleTiming]] = {}
    for m in modules:
        by_kind.setdefault(m.kind, []).append(m)
    totals = statistics.median(r.entry_ms for r in runs)
    out = [
        f"Pyodide {line}, median of {len(runs)} fresh starts; import of entry.py with the timing hook: "
        f"{totals:.0f} ms (SDK before it: {statistics.median(r.sdk_ms for r in runs):.0f} ms).",
        "",
        "| kind | modules | self total | compile | execute |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, group in sorted(by_kind.items()):
        out.append(
            f"| {kind} | {len(group)} | {sum(m.self_ms for m in group):.1f} ms | "
            f"{sum(m.compile_ms for m in group):.1f} ms | {sum(m.exec_ms for m in group):.1f} ms |"
        )
    out += [
        "",
        f"Top {top} modules by self time:",
        "",
        "| module | kind | self | compile | execute | inclusive |",
    ]
    out.append("|---|---|---:|---:|---:|---:|")
    for m in modules[:top]:
        out.append(
            f"| {m.name} | {m.kind} | {m.self_ms:.1f} ms | {m.compile_ms:.1f} ms | {m.exec_ms:.1f} ms | "
            f"{m.inclusive_ms:.1f} ms |"
        )
    stdlib = sorted(m.name for m in modules if m.kind == "stdlib")
    out += [
        "",
        f"Stdlib modules entry.py imports beyond the SDK's ({len(stdlib)}): {', '.join(stdlib) or 'none'}.",
    ]
    out += ["", render_definition_costs(runs)]
    return "\n".join(out)


def median_definition_costs(runs: list[ProfileRun]) -> dict[str, float]:
    return {name: statistics.median(r.definition_ms[name] for r in runs) for name in runs[0].definition_ms}


def render_definition_costs(runs: list[ProfileRun]) -> str:
    costs = median_definition_costs(runs)
    listed = "; ".join(f"{name} {ms:.2f} ms" for name, ms in costs.items())
    return f"Cost of one definition in a module body under Pyodide (warm, median): {listed}."


def profile_trees(trees: list[Path], runs: int, line: str) -> list[list[ProfileRun]]:
    """`runs` fresh starts per worker_src tree, alternating trees so machine noise hits all alike."""
    work = Path(tempfile.mkdtemp(prefix="edgestack-import-bundle-"))
    try:
        bundle_dirs = [write_bundle(load_bundle(tree), work / str(i)) for i, tree in enumerate(trees)]
        results: list[list[ProfileRun]] = [[] for _ in trees]
        for _ in range(runs):
            for i, bundle_dir in enumerate(bundle_dirs):
                results[i].append(profile_once(bundle_dir, line))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--pyodide", default="314", choices=["314", "0.28"])
    parser.add_argument(
        "--worker-src",
        type=Path,
        action="append",
        help="a worker_src tree (repeat to compare; default worker_src)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw per-run rows as JSON")
    args = parser.parse_args()
    trees = args.worker_src or [ROOT / "worker_src"]
    results = profile_trees(trees, args.runs, args.pyodide)
    for tree, runs in zip(trees, results, strict=True):
        if args.json:
            print(json.dumps([[m.__dict__ for m in r.modules] for r in runs], indent=1))
        print(f"### {tree}\n")
        print(render(runs, args.top, args.pyodide))
        print(f"\nentry.py import samples (ms): {', '.join(f'{r.entry_ms:.0f}' for r in runs)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
