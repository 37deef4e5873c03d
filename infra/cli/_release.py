"""Shared by `edgestack promote`, `rollback` and `mark-stable`: print or apply a release step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.release.steps import ReleaseStep


def run_release(make_step: Callable[[], ReleaseStep], *, dry_run: bool) -> int:
    """Build the step (every refusal is raised here, before anything changes), then print or apply it."""
    from infra.release.automation import apply

    step = make_step()
    print(step.render())
    if not dry_run:
        apply(step)
    return 0
