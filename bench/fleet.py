"""Benchmark the fleet commands on generated customers, against the peers measured in the same run.

In a temp project (a copy of `Pulumi.yaml` and `stacks/`, the Worker source linked) with N generated
customers (overlays of `stacks/customers/_template.yaml` from `customer new`'s renderer), for N = 100
and 1000:

1. `edgestack fleet validate`: wall time of the whole command (a fresh interpreter). Target for 100:
   under 2 s.
2. `edgestack fleet synth`: wall time for 1 customer (`--only`) and for all N; the per-customer
   marginal cost is (T(N) - T(1)) / (N - 1), compared with one cold `edgestack synth customer-...`
   (a fresh interpreter synthesizing one customer). Target: under 5% of the cold synth.
3. The peer a user would otherwise script, for the same 100 customers: `edgestack wrangler-config`
   for each, then `wrangler deploy --dry-run` on each export (the pinned wrangler, offline, one
   process per customer, as a script would run it).

Every command runs as a child process; wall time (`time.perf_counter`) and the child's CPU time
(`RUSAGE_CHILDREN`) are both reported, because wall time on a shared machine moves with other load.
Usage: `python bench/fleet.py [--sizes 100,1000] [--wrangler N] [--no-write]`. Writes the "fleet"
section of docs/benchmarks.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.benchdocs import write_section  # noqa: E402
from infra.fleet.customers import (  # noqa: E402
    CUSTOMER_NAMESPACE_START,
    CustomerRequest,
    render_overlay,
    template_facts,
)

SECTION = "## fleet"


@dataclass(frozen=True)
class Timed:
    wall_s: float
    cpu_s: float
    stdout: str


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path) -> Timed:
    cpu, wall = children_cpu(), time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - wall
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return Timed(elapsed, children_cpu() - cpu, result.stdout)


def edgestack(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.cli", *args]


def make_project(root: Path, size: int) -> list[str]:
    """A project at `root` with `size` generated customers (replacing the shipped ones)."""
    root.mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    (root / "worker_src").symlink_to(ROOT / "worker_src", target_is_directory=True)
    customers = root / "stacks" / "customers"
    for shipped in ("acme.yaml", "globex.yaml"):
        (customers / shipped).unlink()
    facts = template_facts(customers / "_template.yaml")
    names = []
    for index in range(size):
        name = f"cust{index:04d}"
        request = CustomerRequest(name, f"{index + 1:032x}", f"ai.{name}.example")
        (customers / f"{name}.yaml").write_text(render_overlay(request, facts, [CUSTOMER_NAMESPACE_START + index]))
        names.append(name)
    return names


def bench_size(work: Path, size: int) -> dict[str, float]:
    project = work / f"fleet-{size}"
    names = make_project(project, size)
    validate = timed(edgestack("fleet", "validate"), project)
    synth_one = timed(edgestack("fleet", "synth", "--only", names[0]), project)
    synth_all = timed(edgestack("fleet", "synth"), project)
    assert len(synth_all.stdout.splitlines()) == size + 1, "fleet synth printed an unexpected table"
    cold = timed(edgestack("synth", f"customer-{names[0]}"), project)
    return {
        "validate_wall": validate.wall_s,
        "validate_cpu": validate.cpu_s,
        "synth_one_wall": synth_one.wall_s,
        "synth_all_wall": synth_all.wall_s,
        "synth_all_cpu": synth_all.cpu_s,
        "marginal_wall": (synth_all.wall_s - synth_one.wall_s) / (size - 1),
        "marginal_cpu": (synth_all.cpu_s - synth_one.cpu_s) / (size - 1),
        "cold_wall": cold.wall_s,
        "cold_cpu": cold.cpu_s,
    }


def bench_wrangler(work: Path, count: int) -> dict[str, float]:
    """`edgestack wrangler-config` + `wrangler deploy --dry-run`, one customer at a time."""
    from infra.fleet.wrangler_check import WRANGLER, offline_env

    project = work / "fleet-100" if (work / "fleet-100").is_dir() else work / f"fleet-wrangler-{count}"
    names = sorted(p.stem for p in (project / "stacks" / "customers").glob("cust*.yaml"))[:count]
    if not names:
        names = make_project(project, count)
    exports = work / "wrangler"
    (exports / "tmp").mkdir(parents=True, exist_ok=True)
    export_wall = export_cpu = dry_wall = dry_cpu = 0.0
    env = offline_env(exports)
    for name in names:
        config = exports / f"{name}.jsonc"
        done = timed(edgestack("wrangler-config", f"customer-{name}", "-o", str(config)), project)
        export_wall, export_cpu = export_wall + done.wall_s, export_cpu + done.cpu_s
        cpu, wall = children_cpu(), time.perf_counter()
        result = subprocess.run(
            [str(WRANGLER), "deploy", "--dry-run", "--config", str(config), "--outdir", str(exports / f"out-{name}")],
            cwd=exports,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        dry_wall += time.perf_counter() - wall
        dry_cpu += children_cpu() - cpu
        if result.returncode != 0:
            raise SystemExit(f"wrangler dry run of {name} failed:\n{(result.stdout + result.stderr)[-2000:]}")
    return {
        "count": len(names),
        "export_wall": export_wall,
        "export_cpu": export_cpu,
        "dry_run_wall": dry_wall,
        "dry_run_cpu": dry_cpu,
    }


def render(results: dict[int, dict[str, float]], peer: dict[str, float] | None) -> str:
    lines = [
        SECTION,
        "",
        f"`python bench/fleet.py` ({platform.python_version()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end; every figure from this run, each command a fresh process; "
        "wall time, with the child's CPU time in parentheses).",
        "",
        "| customers | `fleet validate` | `fleet synth` (all) | marginal synth per customer | one cold `edgestack synth` | marginal / cold |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results.items():
        lines.append(
            f"| {size} | {r['validate_wall']:.2f} s ({r['validate_cpu']:.2f} s) "
            f"| {r['synth_all_wall']:.1f} s ({r['synth_all_cpu']:.1f} s) "
            f"| {1000 * r['marginal_wall']:.0f} ms ({1000 * r['marginal_cpu']:.0f} ms) "
            f"| {r['cold_wall']:.2f} s ({r['cold_cpu']:.2f} s) "
            f"| {100 * r['marginal_wall'] / r['cold_wall']:.1f}% ({100 * r['marginal_cpu'] / r['cold_cpu']:.1f}%) |"
        )
    lines += [
        "",
        "Targets: 100 customers validated in under 2 s; synthesized at under 5% of one cold synth each.",
        "`fleet synth` undoes, after each stack, the wrapper Pulumi's dynamic-provider serializer leaves on "
        "`pickle._Pickler` (`infra.fleet.summary.pickler_restored`); without it 1000 customers in one "
        "process end in RecursionError at about 500.",
    ]
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        lines += [
            "",
            "The machine was shared during this run (load above its core count): wall times are inflated "
            "and uneven; the CPU times in parentheses are the steadier comparison.",
        ]
    if peer is not None and 100 in results:
        n = peer["count"]
        ours = results[100]
        per_dry = peer["dry_run_wall"] / n
        lines += [
            "",
            f"Peer, the same {n:.0f} customers one by one as a script would do it: `edgestack wrangler-config` "
            f"then `wrangler deploy --dry-run` (wrangler 4.42.0, offline):",
            "",
            "| | total | per customer |",
            "|---|---:|---:|",
            f"| `edgestack wrangler-config` (one process each) | {peer['export_wall']:.1f} s ({peer['export_cpu']:.1f} s) "
            f"| {1000 * peer['export_wall'] / n:.0f} ms |",
            f"| `wrangler deploy --dry-run` (one process each) | {peer['dry_run_wall']:.1f} s ({peer['dry_run_cpu']:.1f} s) "
            f"| {1000 * per_dry:.0f} ms |",
            f"| `edgestack fleet validate` (one process, all 100) | {ours['validate_wall']:.2f} s "
            f"| {1000 * ours['validate_wall'] / 100:.0f} ms |",
            f"| `edgestack fleet synth` (one process, all 100) | {ours['synth_all_wall']:.1f} s "
            f"| {1000 * ours['synth_all_wall'] / 100:.0f} ms |",
            "",
            "The dry run checks a config against wrangler's schema and bundles the modules, per customer; "
            "`fleet validate` checks every customer and every cross-stack collision, and `fleet synth` runs "
            "the real Pulumi program for each, in one process.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="customer counts (default 100,1000)")
    parser.add_argument("--wrangler", type=int, default=100, help="customers through wrangler (0: skip)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="edgestack-fleet-bench-") as tmp:
        work = Path(tmp)
        results = {}
        for size in sizes:
            results[size] = bench_size(work, size)
            print(f"{size}: {results[size]}", file=sys.stderr)
        peer = bench_wrangler(work, args.wrangler) if args.wrangler else None
        if peer:
            print(f"wrangler: {peer}", file=sys.stderr)
    text = render(results, peer)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
