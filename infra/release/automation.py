"""The thin layer that runs a `ReleaseStep` with Pulumi's Automation API (LocalWorkspace).

It needs the Pulumi CLI at run time; without it every command stops with one line saying how to
install it. Everything it decides comes from the pure core in `infra.plan.rollout`; this module
only reads stack outputs and config and applies config changes and `up`. Config it changed is put
back when `up` fails, so a refused deploy leaves the stack as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.deploy.pulumi_cli import PULUMI_CLI_MISSING, pulumi_cli
from infra.errors import EdgestackError
from infra.plan.rollout import (
    full_key,
)
from infra.stackfile.project import find_project

from .steps import ReleaseStep, StackState, load_state_file, stack_state

# Release commands read the stacks' state through the CLI unless given --state FILE.
INSTALL_HINT = (
    f"{PULUMI_CLI_MISSING}; or pass --state FILE.json (the stacks' outputs and config) to plan "
    "without it (with --dry-run)"
)


class AutomationError(EdgestackError):
    """A one-line reason the Pulumi CLI could not do what was asked."""


def require_pulumi_cli() -> None:
    if pulumi_cli() is None:
        raise AutomationError(INSTALL_HINT)


def _one_line(exc: Exception) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error:")]
    return (errors or lines or [type(exc).__name__])[-1]


def _select(stack_name: str, work_dir: Path | None) -> Any:
    """The stack in `work_dir`, default the project enclosing the working directory."""
    import pulumi.automation as auto

    try:
        return auto.select_stack(stack_name=stack_name, work_dir=str(work_dir or find_project().root))
    except auto.StackNotFoundError:
        raise AutomationError(f"unknown Pulumi stack {stack_name!r} (pulumi stack ls)") from None
    except auto.CommandError as exc:
        raise AutomationError(f"pulumi: {_one_line(exc)}") from None


def read_state(stack_name: str, work_dir: Path | None = None) -> StackState:
    """A deployed stack's outputs and release config (raises AutomationError or RolloutError)."""
    import pulumi.automation as auto

    require_pulumi_cli()
    stack = _select(stack_name, work_dir)
    try:
        outputs = {key: value.value for key, value in stack.outputs().items()}
        config = {key: value.value for key, value in stack.get_all_config().items()}
    except auto.CommandError as exc:
        raise AutomationError(f"pulumi: {_one_line(exc)}") from None
    return stack_state(stack_name, outputs, config)


def state(stack_name: str, state_file: Path | None) -> StackState:
    """From `state_file` when given (no Pulumi CLI needed), else from the stack through the CLI."""
    return load_state_file(state_file, stack_name) if state_file is not None else read_state(stack_name)


def apply(step: ReleaseStep, *, on_output: Callable[[str], Any] = print, work_dir: Path | None = None) -> None:
    """Set/remove the step's config, then `pulumi up`; on failure, put the old config back."""
    import pulumi.automation as auto

    require_pulumi_cli()
    stack = _select(step.stack, work_dir)
    try:
        before = stack.get_all_config()
    except auto.CommandError as exc:
        raise AutomationError(f"pulumi: {_one_line(exc)}") from None
    changed: list[str] = []
    try:
        for change in step.changes:
            key = full_key(change.key)
            if change.value is None:
                if key in before:
                    stack.remove_config(key)
            else:
                stack.set_config(key, auto.ConfigValue(change.value))
            changed.append(key)
        if step.run_up:
            stack.up(on_output=on_output, message=step.summary)
    except auto.CommandError as exc:
        _restore(stack, before, changed)
        raise AutomationError(f"pulumi up -s {step.stack} failed, config restored: {_one_line(exc)}") from None


def _restore(stack: Any, before: dict[str, Any], keys: list[str]) -> None:
    for key in keys:
        if key in before:
            stack.set_config(key, before[key])
        else:
            stack.remove_config(key)

