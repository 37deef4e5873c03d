"""The thin Automation API layer: one customer's preview/up/refresh/destroy through Pulumi's
LocalWorkspace (this project's `Pulumi.yaml`, stack `customer-<name>`), as a scheduler `Runner`.

Everything that decides *what* runs (order, concurrency, failures, Ctrl-C) lives in
`infra.fleet.scheduler` and is tested with plain runner functions; this module only calls Pulumi, which
needs the Pulumi CLI on PATH (`require_cli`).

Ctrl-C also reaches the `pulumi` processes (same process group); the CLI then cancels its update
gracefully (it finishes the resource operations in flight), which is how "the running ones finish".
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..deploy.pulumi_cli import PULUMI_CLI_MISSING, pulumi_cli
from ..errors import EdgestackError
from ..stackfile.project import find_project
from .scheduler import ProgressFn, Runner


class Operation(StrEnum):
    PREVIEW = "preview"
    UP = "up"
    REFRESH = "refresh"
    DESTROY = "destroy"


class PulumiCliMissingError(EdgestackError):
    def __init__(self) -> None:
        super().__init__(PULUMI_CLI_MISSING)


def require_cli() -> None:
    if pulumi_cli() is None:
        raise PulumiCliMissingError()


def step_text(event: Any) -> str | None:
    """A finished (or, in a preview, planned) resource step as `op type name`; None for other events."""
    pre = getattr(event, "resource_pre_event", None)
    done = getattr(event, "res_outputs_event", None)
    metadata = (
        done.metadata if done is not None else pre.metadata if pre is not None and pre.planning else None
    )
    if metadata is None:
        return None
    name = str(metadata.urn).rsplit("::", 1)[-1]
    op = getattr(metadata.op, "value", metadata.op)
    return f"{op} {metadata.type} {name}"


def pulumi_runner(operation: Operation, project_dir: Path | None = None) -> Runner:
    """A `Runner` doing `operation` on one stack with the Automation API (in the project's folder)."""
    from pulumi import automation as auto

    work_dir = str(project_dir or find_project().root)

    def run(stack_name: str, progress: ProgressFn) -> Mapping[str, int]:
        def on_event(event: Any) -> None:
            text = step_text(event)
            if text is not None:
                progress(text)

        options: dict[str, Any] = {"on_event": on_event, "color": "never"}
        if operation in (Operation.PREVIEW, Operation.UP):
            stack = auto.create_or_select_stack(stack_name=stack_name, work_dir=work_dir)
        else:
            stack = auto.select_stack(stack_name=stack_name, work_dir=work_dir)
        if operation is Operation.PREVIEW:
            return {str(k): v for k, v in stack.preview(**options).change_summary.items()}
        result: Any
        if operation is Operation.UP:
            result = stack.up(**options)
        elif operation is Operation.REFRESH:
            result = stack.refresh(**options)
        else:
            result = stack.destroy(**options)
        return {str(k): v for k, v in (result.summary.resource_changes or {}).items()}

    return run
