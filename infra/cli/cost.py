"""`edgestack cost STACK [--profile traffic.yaml] [--format table|json]`: a stack's monthly cost."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app

if TYPE_CHECKING:
    from infra.cost.estimate import CostEstimate


class CostFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def stack_cost(stack_arg: str, profile_path: Path | None, worker_src: Path | None = None) -> CostEstimate:
    """Load `stack_arg` (a name or file), its profile (or the default one), and estimate. Raises `StackError`."""
    from infra.cost.estimate import default_profile, estimate
    from infra.cost.traffic import load_profile
    from infra.stackfile.load import load_stack
    from infra.stackfile.names import resolve_stack_path

    path = resolve_stack_path(stack_arg)
    stack = load_stack(path, worker_src=worker_src)
    profile = load_profile(profile_path, stack) if profile_path else default_profile(stack)
    return estimate(stack, profile, name=stack_arg)


def print_cost(result: CostEstimate) -> None:
    from infra.cost.estimate import render_table
    from infra.terminal import print_table

    platform, tokens = render_table(result)
    print(
        f"cost {result.stack}: ${result.total_usd:,.2f} / month on Workers Paid "
        f"(platform ${result.platform_usd:,.2f}, model tokens ${result.tokens_usd:,.2f})"
    )
    print_table(*platform)
    if tokens[1]:
        print()
        print_table(*tokens)
    for note in result.notes:
        print(f"note: {note}")


@app.command(
    "cost",
    help=(
        "Estimate STACK's monthly cost on Workers Paid under a traffic profile (default: 100k requests a "
        "month per route, a small corpus and agent traffic), itemised per meter with the free allowance "
        "and the paid plan's included amount; model tokens at the stack's prices."
    ),
    short_help="estimate a stack's monthly cost under a traffic profile",
)
def cost(
    stack: Annotated[str, typer.Argument(metavar="STACK", help="stack name or file")],
    profile: Annotated[
        Path | None, typer.Option("--profile", metavar="traffic.yaml", help="traffic profile")
    ] = None,
    output_format: Annotated[CostFormat, typer.Option("--format", help="output format")] = CostFormat.TABLE,
    worker_src: Annotated[Path | None, typer.Option("--worker-src", hidden=True)] = None,
) -> int:
    result = stack_cost(stack, profile, worker_src)
    if output_format is CostFormat.JSON:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_cost(result)
    return 0
