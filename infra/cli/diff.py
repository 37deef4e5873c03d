"""`edgestack diff STACK_A STACK_B` / `edgestack diff STACK --against FILE.json`: compare synth graphs."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .app import CommandError, app


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command(
    "diff",
    help=(
        "Show what STACK_B adds, removes and changes relative to STACK_A (or what STACK changes relative "
        "to a graph saved with `edgestack synth STACK --format json > FILE.json`). Names are normalized "
        "and secrets masked."
    ),
    short_help="compare two stacks' synth graphs (names normalized, secrets masked)",
)
def diff(
    stacks: Annotated[
        list[str], typer.Argument(metavar="STACK...", help="STACK_A STACK_B, or STACK with --against")
    ],
    against: Annotated[
        Path | None, typer.Option("--against", metavar="FILE.json", help="saved synth graph to compare with")
    ] = None,
    output_format: Annotated[DiffFormat, typer.Option("--format", help="output format")] = DiffFormat.TABLE,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="exit 1 when the graphs differ")] = False,
    cost_profile: Annotated[
        Path | None,
        typer.Option(
            "--cost", metavar="PROFILE", help="also show the monthly cost delta under this traffic profile"
        ),
    ] = None,
    worker_src: Annotated[Path | None, typer.Option("--worker-src", hidden=True)] = None,
) -> int:
    from infra.deploy.synth import synth_stack
    from infra.release.diff import diff_graphs, load_synth_json, render_table

    expected = 1 if against else 2
    if len(stacks) != expected:
        usage = "STACK --against FILE.json" if against else "STACK_A STACK_B"
        raise CommandError(f"expected {usage}, got {len(stacks)} stack(s)")
    if cost_profile is not None and against:
        raise CommandError("--cost compares two stacks: give STACK_A STACK_B, not --against")
    left = load_synth_json(against) if against else synth_stack(stacks[0], worker_src=worker_src)
    right = synth_stack(stacks[-1], worker_src=worker_src)
    result = diff_graphs(left, right)
    delta = None
    if cost_profile is not None:
        from infra.cost.estimate import CostDelta

        from .cost import stack_cost

        delta = CostDelta(
            stack_cost(stacks[0], cost_profile, worker_src), stack_cost(stacks[1], cost_profile, worker_src)
        )
    if output_format is DiffFormat.JSON:
        graph = result.to_json()
        print(json.dumps(graph if delta is None else {**graph, "cost": delta.to_json()}, indent=2))
    else:
        print(render_table(result))
        if delta is not None:
            from infra.terminal import print_table

            print(
                f"\nmonthly cost {delta.before.stack} -> {delta.after.stack}: "
                f"${delta.before.total_usd:,.2f} -> ${delta.after.total_usd:,.2f} ({delta.delta_usd:+,.2f})"
            )
            print_table(*delta.table())
    return 1 if exit_code and not result.empty else 0
