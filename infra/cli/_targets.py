"""Command-line stack arguments (names, files or folders) -> stack files."""

from __future__ import annotations

from pathlib import Path

from infra.stackfile.diagnostics import StackError
from infra.stackfile.names import list_stack_files, resolve_stack_path
from infra.stackfile.project import ProjectNotFoundError


def stack_targets(arguments: list[str]) -> tuple[list[Path], list[str]]:
    """Stack files for `arguments` (every shipped stack when empty), and one-line problems."""
    if not arguments:
        try:
            return list_stack_files(), []
        except ProjectNotFoundError as exc:
            return [], [str(exc)]
    files: list[Path] = []
    problems: list[str] = []
    for argument in arguments:
        if Path(argument).is_dir():
            found = list_stack_files(Path(argument))
            if not found:
                problems.append(f"{argument}: no stack files in this folder")
            files.extend(found)
            continue
        try:
            files.append(resolve_stack_path(argument))
        except StackError as exc:
            problems.append(str(exc))
    unique = list(dict.fromkeys(files))
    return unique, problems
