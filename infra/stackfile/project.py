"""Where things are: the project (found from the working directory) and edgestack's own files.

An edgestack project is the folder holding `Pulumi.yaml`, found by searching upward from the working
directory as `pulumi` does. Its stack files live in `stacks/`, its Worker source in `worker_src/`
(whose main module is `entry.py`), and local state in `.edgestack/`. Running `edgestack` inside
another clone therefore works on that clone, never on the one edgestack was installed from.

`TOOL_ROOT` is edgestack's own checkout: the local runtime (`runtime/`) and the cached SDK wheel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import OneLineError

PROJECT_FILE = "Pulumi.yaml"
ENTRY_MODULE = "entry.py"
TOOL_ROOT = Path(__file__).resolve().parents[2]


class ProjectNotFoundError(OneLineError):
    """No `Pulumi.yaml` in the working directory or any folder above it."""

    def __init__(self, start: Path) -> None:
        super().__init__(
            str(start),
            f"{start}: not inside an edgestack project (no {PROJECT_FILE} here or in a parent folder); "
            "run edgestack from the project, or name stack files and --worker-src by path",
        )


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def stacks_dir(self) -> Path:
        return self.root / "stacks"

    @property
    def worker_src(self) -> Path:
        return self.root / "worker_src"

    @property
    def state_dir(self) -> Path:
        """Local, ignored state: dev sessions (`dev/`)."""
        return self.root / ".edgestack"


def find_project(start: Path | None = None) -> Project:
    """The project enclosing `start` (default: the working directory). Raises `ProjectNotFoundError`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return Project(folder)
    raise ProjectNotFoundError(here)


def project_relative(path: Path) -> str:
    """`path` relative to the project root (posix) when inside the project, else unchanged: a
    machine-independent form for Pulumi state. Diagnostics use `source.display_path` instead."""
    try:
        return path.resolve().relative_to(find_project().root).as_posix()
    except (ValueError, ProjectNotFoundError):
        return os.fspath(path)


def project_of(stack_file: str | os.PathLike[str]) -> Project:
    """The project a stack file belongs to: found from the file's folder, so a path given from
    outside the project works; a file in no project belongs to the working directory's."""
    try:
        return find_project(Path(stack_file).resolve().parent)
    except ProjectNotFoundError:
        return find_project()
