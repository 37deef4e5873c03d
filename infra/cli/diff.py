"""`edgestack diff STACK_A STACK_B` / `edgestack diff STACK --against FILE.json`: compare synth graphs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..deploy.synth import synth_stack
from ..plan.planner import PLAN_ERRORS
from ..release.diff import DiffInputError, diff_graphs, load_synth_json, render_table
from ..stackfile.diagnostics import StackError

ONE_LINE_ERRORS: tuple[type[Exception], ...] = (DiffInputError, *PLAN_ERRORS)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "diff",
        help="compare two stacks' synth graphs (names normalized, secrets masked)",
        description=(
            "Show what STACK_B adds, removes and changes relative to STACK_A (or what STACK changes "
            "relative to a graph saved with `edgestack synth STACK --format json > FILE.json`)."
        ),
    )
    parser.add_argument("stacks", nargs="+", metavar="STACK", help="STACK_A STACK_B, or STACK with --against")
    parser.add_argument("--against", type=Path, metavar="FILE.json", help="saved synth graph to compare with")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when the graphs differ")
    parser.add_argument("--worker-src", type=Path, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    expected = 1 if args.against else 2
    if len(args.stacks) != expected:
        usage = "STACK --against FILE.json" if args.against else "STACK_A STACK_B"
        print(f"edgestack diff: expected {usage}, got {len(args.stacks)} stack(s)", file=sys.stderr)
        return 1
    try:
        left = load_synth_json(args.against) if args.against else synth_stack(args.stacks[0], worker_src=args.worker_src)
        right = synth_stack(args.stacks[-1], worker_src=args.worker_src)
    except StackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except ONE_LINE_ERRORS as exc:
        print(f"edgestack diff: {exc}", file=sys.stderr)
        return 1
    diff = diff_graphs(left, right)
    print(json.dumps(diff.to_json(), indent=2) if args.format == "json" else render_table(diff))
    return 1 if args.exit_code and not diff.empty else 0
