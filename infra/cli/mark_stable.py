"""`edgestack mark-stable STACK [--dry-run]`: after `promote --percent 100`, record the new stable version."""

from __future__ import annotations

from typing import Annotated

import typer

from ._release import DryRunOption, StateFileOption, run_release
from .app import app


@app.command(
    "mark-stable",
    help=(
        "Record the version now at 100% as the stable one, after `edgestack promote --percent 100`: "
        "adds it to edgestack:versions (a rollback target from now on) and removes edgestack:rollout."
    ),
    short_help="record the version at 100% as stable and end the rollout",
)
def mark_stable(
    stack: Annotated[str, typer.Argument(metavar="STACK")],
    dry_run: DryRunOption = False,
    state_file: StateFileOption = None,
) -> int:
    from infra.release.automation import state
    from infra.release.stacks import load_named_stack
    from infra.release.steps import ReleaseStep, plan_mark_stable

    def make_step() -> ReleaseStep:
        named = load_named_stack(stack)
        return plan_mark_stable(state(named.name, state_file))

    return run_release(make_step, dry_run=dry_run)
