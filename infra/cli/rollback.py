"""`edgestack rollback STACK [--to VERSION_ID] [--dry-run]`: pin a recorded version at 100%."""

from __future__ import annotations

from typing import Annotated

import typer

from ._release import DryRunOption, StateFileOption, run_release
from .app import app


@app.command(
    "rollback",
    help=(
        "Send all of a stack's traffic to its stable (or a given) version. "
        'Sets edgestack:rollout to {"pinVersionId": ...} and runs `pulumi up` (Automation API; needs the '
        "Pulumi CLI). The version must be in edgestack:versions and at the script's migration tag; nothing "
        "is uploaded or rebuilt."
    ),
    short_help="send 100% of a stack's traffic to its stable (or a given) version; uploads nothing",
)
def rollback(
    stack: Annotated[str, typer.Argument(metavar="STACK")],
    to: Annotated[str | None, typer.Option("--to", metavar="VERSION_ID", help="default: the stable version")] = None,
    dry_run: DryRunOption = False,
    state_file: StateFileOption = None,
) -> int:
    from infra.release.automation import state
    from infra.release.stacks import load_named_stack
    from infra.release.steps import ReleaseStep, plan_rollback

    def make_step() -> ReleaseStep:
        named = load_named_stack(stack)
        return plan_rollback(state(named.name, state_file), to)

    return run_release(make_step, dry_run=dry_run)
