"""A stack argument (name or file) -> its file, Pulumi stack name and `Stack`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.spec import Stack
from infra.stackfile.load import load_stack
from infra.stackfile.names import resolve_stack_path, stack_name


@dataclass(frozen=True)
class NamedStack:
    name: str
    path: Path
    stack: Stack


def load_named_stack(name_or_path: str, *, worker_src: Path | None = None) -> NamedStack:
    """Raises `StackError` (unknown stack, invalid file) with one line per problem."""
    path = resolve_stack_path(name_or_path)
    return NamedStack(stack_name(path), path, load_stack(path, worker_src=worker_src))
