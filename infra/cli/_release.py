"""Shared by `edgestack promote`, `rollback` and `mark-stable`: print or apply a release step."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..plan.artifact import ArtifactError
from ..release.automation import ONE_LINE_ERRORS, apply
from ..release.steps import ReleaseStep
from ..stackfile.diagnostics import StackError

ERRORS: tuple[type[Exception], ...] = (*ONE_LINE_ERRORS, ArtifactError)


def run_release(command: str, make_step: Callable[[], ReleaseStep], *, dry_run: bool) -> int:
    """Build the step (every refusal happens here, before anything changes), then print or apply it."""
    try:
        step = make_step()
        print(step.render())
        if not dry_run:
            apply(step)
    except StackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except ERRORS as exc:
        print(f"edgestack {command}: {exc}", file=sys.stderr)
        return 1
    return 0
