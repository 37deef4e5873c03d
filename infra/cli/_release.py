"""Shared by `edgestack promote`, `rollback` and `mark-stable`: print or apply a release step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from infra.release.steps import ReleaseStep

_STATE_HELP = (
    'read the stacks\' outputs and config from FILE.json ({"<stack>": {"outputs": ..., "config": ...}}, '
    "as `pulumi stack output --json` and `pulumi config --json` print them) instead of through the Pulumi CLI"
)
# The options every release command takes.
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="print the config changes and pulumi commands only")
]
StateFileOption = Annotated[Path | None, typer.Option("--state", metavar="FILE.json", help=_STATE_HELP)]


def run_release(make_step: Callable[[], ReleaseStep], *, dry_run: bool) -> int:
    """Build the step (every refusal is raised here, before anything changes), then print or apply it."""
    from infra.release.automation import apply

    step = make_step()
    print(step.render())
    if not dry_run:
        apply(step)
    return 0
