"""`edgestack policy check [STACK...]`: the release policy rules over each stack's synth graph."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app

if TYPE_CHECKING:
    from infra.release.policy import Violation

policy = typer.Typer(help="Release policy gates.", no_args_is_help=True)
app.add_typer(policy, name="policy", help="Check release policy gates (the rules of the CrossGuard pack in policy/).")


class PolicyFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def check_stack(path: Path, *, worker_src: Path | None, today: dt.date) -> list[Violation]:
    """Raises `StackError` or another `EdgestackError` for a stack that cannot be synthesized."""
    from infra.deploy.synth import synth_stack
    from infra.release.graph import Graph
    from infra.release.policy import PolicyContext, check_graph
    from infra.stackfile.load import load_stack
    from infra.stackfile.names import stack_name

    stack = load_stack(path, worker_src=worker_src)
    graph = Graph.from_synth(synth_stack(str(path), worker_src=worker_src))
    return check_graph(graph, PolicyContext.from_stack(stack_name(path), stack, today=today))


@policy.command(
    "check",
    help="Check stacks against the policy rules (offline, on synth). Exit 1 when a mandatory rule is "
    "broken and the stack file does not exempt it.",
    short_help="check stacks against the policy rules (offline, on synth)",
)
def check(
    stacks: Annotated[
        list[str] | None,
        typer.Argument(metavar="STACK...", help="stack names or files (default: every stack)", show_default=False),
    ] = None,
    output_format: Annotated[PolicyFormat, typer.Option("--format", help="output format")] = PolicyFormat.TEXT,
    list_rules: Annotated[bool, typer.Option("--list-rules", help="print the rules and exit")] = False,
    worker_src: Annotated[Path | None, typer.Option("--worker-src", hidden=True)] = None,
) -> int:
    from infra.errors import EdgestackError
    from infra.release.policy import RULES
    from infra.stackfile.diagnostics import StackError
    from infra.stackfile.names import stack_name

    from ._targets import stack_targets

    if list_rules:
        for rule in RULES:
            print(f"{rule.id}  {rule.severity}  {rule.description}")
        return 0
    files, problems = stack_targets(stacks or [])
    for problem in problems:
        print(f"edgestack policy check: {problem}", file=sys.stderr)
    if problems and not files:
        return 1
    today = dt.datetime.now(dt.UTC).date()
    violations: list[Violation] = []
    failed = len(problems)
    for path in files:
        try:
            violations += check_stack(path, worker_src=worker_src, today=today)
        except StackError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
        except EdgestackError as exc:
            print(f"{stack_name(path)}: {exc}", file=sys.stderr)
            failed += 1
    if output_format is PolicyFormat.JSON:
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
