"""Benchmark the CLI's cold start: a fresh interpreter per run, everything measured in this run.

Measures (child process CPU time, user + system, from `getrusage(RUSAGE_CHILDREN)`; wall time too):

1. `python -c pass`: the interpreter's own start, the baseline of every other row;
2. `edgestack --help` and `edgestack --version`: target under 0.2 s (the commands' heavy modules are
   imported inside the commands, so these load typer and little else);
3. `edgestack synth prod --format json` against the floor: a fresh interpreter that imports
   pulumi_cloudflare and runs a bare program registering as many trivial resources through the same
   mock monitor. Target: within 1.2x of the floor.

Runs are interleaved (one of each per round) so load on a shared machine hits every row alike; the
table gives the minimum and the median. Usage: `python bench/cli.py [--runs N] [--no-write]`; writes
the "cli" section of docs/benchmarks.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.benchdocs import publish  # noqa: E402

SECTION = "## cli"
CLI = "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))"
FLOOR = (
    "import sys; sys.path.insert(0, {root!r}); import pulumi_cloudflare; "
    "from bench.synth import floor_program; from infra.deploy.synth import run_program; "
    "run_program('floor', floor_program({count}))"
)
SYNTH_PROD_RESOURCES = 28  # what `synth prod` registers (components included), as bench/synth.py counts


def commands() -> dict[str, list[str]]:
    python = sys.executable
    return {
        "python -c pass (baseline)": [python, "-c", "pass"],
        "edgestack --help": [python, "-c", CLI, "--help"],
        "edgestack --version": [python, "-c", CLI, "--version"],
        "edgestack synth prod --format json": [python, "-c", CLI, "synth", "prod", "--format", "json"],
        "floor: bare program importing pulumi_cloudflare": [
            python,
            "-c",
            FLOOR.format(root=str(ROOT), count=SYNTH_PROD_RESOURCES),
        ],
    }


def run_once(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def measure(runs: int) -> dict[str, dict[str, float]]:
    rows = commands()
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    wall: dict[str, list[float]] = {name: [] for name in rows}
    for argv in rows.values():  # warm the page cache once; not counted
        run_once(argv)
    for _ in range(runs):
        for name, argv in rows.items():
            c, w = run_once(argv)
            cpu[name].append(c)
            wall[name].append(w)
    return {
        name: {
            "cpu_min": min(cpu[name]),
            "cpu_median": statistics.median(cpu[name]),
            "wall_min": min(wall[name]),
            "wall_median": statistics.median(wall[name]),
        }
        for name in rows
    }


def report(results: dict[str, dict[str, float]], runs: int) -> str:
    names = list(results)
    baseline, synth, floor = names[0], names[3], names[4]
    lines = [
        SECTION,
        "",
        f"`python bench/cli.py` on CPython {platform.python_version()}, {platform.machine()}; a fresh "
        f"interpreter per run, {runs} interleaved rounds; child CPU time (user + system) and wall time.",
        "",
        "| command | CPU min / median | wall min / median | CPU min vs baseline |",
        "|---|---|---|---|",
    ]
    for name in names:
        r = results[name]
        lines.append(
            f"| {name} | {r['cpu_min'] * 1000:.0f} ms / {r['cpu_median'] * 1000:.0f} ms "
            f"| {r['wall_min'] * 1000:.0f} ms / {r['wall_median'] * 1000:.0f} ms "
            f"| {r['cpu_min'] / results[baseline]['cpu_min']:.2f}x |"
        )
    ratio = results[synth]["cpu_min"] / results[floor]["cpu_min"]
    ratio_median = results[synth]["cpu_median"] / results[floor]["cpu_median"]
    help_ms = results[names[1]]["cpu_min"] * 1000
    lines += [
        "",
        f"Targets: `--help` and `--version` under 200 ms (measured {help_ms:.0f} ms CPU, of which "
        f"{results[baseline]['cpu_min'] * 1000:.0f} ms is the interpreter's own start); cold `synth prod` "
        f"within 1.2x of the floor (measured {ratio:.2f}x at the minimum, {ratio_median:.2f}x at the median).",
        "",
        "The CLI imports each command's modules (the stack loader, pydantic models, the planner, rich) "
        "inside the command, so `--help` and `--version` load typer and the command table only.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = measure(args.runs)
    publish(SECTION, report(results, args.runs), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
