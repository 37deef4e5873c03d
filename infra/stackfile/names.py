"""Stack names <-> stack files: `prod` is `stacks/prod.yaml`, `customer-acme` is
`stacks/customers/acme.yaml`, in the project found from the working directory (`project.py`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .diagnostics import OneLineError
from .project import ProjectNotFoundError, find_project
from .source import display_path

CUSTOMER_PREFIX = "customer-"
CUSTOMERS_DIR_NAME = "customers"
STACK_SUFFIXES = (".yaml", ".yml")


class StackNotFoundError(OneLineError):
    """A stack name or path that does not exist; its message lists the stacks that do."""


def list_stack_files(root: Path | None = None) -> list[Path]:
    """Every deployable stack file under `root`, sorted.

    Files and folders whose name starts with `_` (templates) or `.` are partial and skipped: they are
    validated through the stacks that extend them. `root` defaults to the project's `stacks/`.
    """
    root = root or find_project().stacks_dir
    found = []
    for candidate in root.rglob("*"):
        parts = candidate.relative_to(root).parts
        if (
            candidate.suffix in STACK_SUFFIXES
            and candidate.is_file()
            and not any(p[:1] in "_." for p in parts)
        ):
            found.append(candidate)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def stack_name(path: Path, root: Path | None = None) -> str:
    """`stacks/prod.yaml` -> `prod`; `stacks/customers/acme.yaml` -> `customer-acme`; a file outside
    the stacks folder (or outside any project) is named by its stem."""
    if root is None:
        try:
            root = find_project(Path(path).resolve().parent).stacks_dir  # the file's own project
        except ProjectNotFoundError:
            return Path(path).stem
    try:
        relative = Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root)))
    except ValueError:
        return Path(path).stem
    if len(relative.parts) == 2 and relative.parts[0] == CUSTOMERS_DIR_NAME:
        return CUSTOMER_PREFIX + relative.stem
    return relative.with_suffix("").as_posix().replace("/", "-")


def resolve_stack_path(name_or_path: str, root: Path | None = None) -> Path:
    """A stack name (`prod`, `customer-acme`) or a path to a stack file -> the file's path."""
    looks_like_path = "/" in name_or_path or os.sep in name_or_path or name_or_path.endswith(STACK_SUFFIXES)
    if looks_like_path:
        path = Path(name_or_path)
        if path.is_file():
            return path
        raise StackNotFoundError(name_or_path, f"{name_or_path}: no such stack file")
    root = root or find_project().stacks_dir
    if name_or_path.startswith(CUSTOMER_PREFIX):
        folder, stem = root / CUSTOMERS_DIR_NAME, name_or_path[len(CUSTOMER_PREFIX) :]
    else:
        folder, stem = root, name_or_path
    if stem and not stem.startswith(("_", ".")):
        for suffix in STACK_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    from .messages import did_you_mean  # the error path only: keeps pydantic off the CLI's start-up

    names = deployable_stack_names(root) if root.is_dir() else []
    available = ", ".join(names) or f"none in {display_path(root)}"
    raise StackNotFoundError(
        name_or_path,
        f"unknown stack {name_or_path!r}{did_you_mean(name_or_path, names)} (available: {available})",
    )


_EXTENDS = re.compile(r"^extends:[ \t]*[\"']?([^\"'#\s]+)", re.MULTILINE)


def deployable_stack_names(root: Path) -> list[str]:
    """Names of the stacks under `root` that no other stack extends (a base like `base.yaml` is a
    part of others, not a stack to name on the command line)."""
    files = list_stack_files(root)
    extended = set()
    for path in files:
        match = _EXTENDS.search(path.read_text(encoding="utf-8", errors="replace"))
        if match:
            extended.add((path.parent / match.group(1)).resolve())
    return [stack_name(p, root) for p in files if p.resolve() not in extended]
