"""`edgestack policy check [STACK...]`: the release policy rules over each stack's synth graph."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from ..deploy.synth import synth_stack
from ..plan.planner import PLAN_ERRORS
from ..release.graph import Graph
from ..release.policy import RULES, PolicyContext, Violation, check_graph
from ..stackfile.diagnostics import StackError
from ..stackfile.load import load_stack
from ..stackfile.names import stack_name
from ._targets import stack_targets


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("policy", help="release policy gates", description=__doc__)
    commands = parser.add_subparsers(dest="policy_command", required=True)
    check = commands.add_parser(
        "check",
        help="check stacks against the policy rules (offline, on synth)",
        description="Exit 1 when a mandatory rule is broken and the stack file does not exempt it.",
    )
    check.add_argument("stacks", nargs="*", metavar="STACK", help="stack names or files (default: every stack)")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    check.add_argument("--worker-src", type=Path, default=None, help=argparse.SUPPRESS)
    check.set_defaults(run=run)


def check_stack(path: Path, *, worker_src: Path | None, today: dt.date) -> list[Violation]:
    """Raises `StackError` or one of `PLAN_ERRORS` for a stack that cannot be synthesized."""
    stack = load_stack(path, worker_src=worker_src)
    graph = Graph.from_synth(synth_stack(str(path), worker_src=worker_src))
    return check_graph(graph, PolicyContext.from_stack(stack_name(path), stack, today=today))


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        for rule in RULES:
            print(f"{rule.id}  {rule.severity}  {rule.description}")
        return 0
    files, problems = stack_targets(args.stacks)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and not files:
        return 1
    today = dt.datetime.now(dt.UTC).date()
    violations: list[Violation] = []
    failed = len(problems)
    for path in files:
        try:
            violations += check_stack(path, worker_src=args.worker_src, today=today)
        except StackError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
        except PLAN_ERRORS as exc:
            print(f"{stack_name(path)}: {exc}", file=sys.stderr)
            failed += 1
    if args.format == "json":
        print(json.dumps([v.to_json() for v in violations], indent=2))
    else:
        for violation in violations:
            print(violation)
    blocking = sum(1 for v in violations if v.blocking)
    print(
        f"edgestack policy check: {blocking} blocking, {len(violations) - blocking} advisory or exempt "
        f"in {len(files)} stack(s)" + (f", {failed} could not be checked" if failed else ""),
        file=sys.stderr,
    )
    return 1 if blocking or failed else 0
