"""The fleet: every stack file under a stacks folder, loaded once, with its source positions.

A *member* is one loaded stack (prod, staging, `customer-acme`, ...). Customers are the members whose
file lives in `<stacks>/customers/`. Files that fail to load are kept as diagnostics, so fleet-wide
checks can still run over the others and a broken shared file is reported once, naming every stack it
breaks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..spec import Stack
from ..stackfile.diagnostics import Diagnostic, StackError
from ..stackfile.load import load_stack_with_sources
from ..stackfile.names import CUSTOMER_PREFIX, CUSTOMERS_DIR_NAME, list_stack_files, stack_name
from ..stackfile.project import find_project
from ..stackfile.source import SourceMap, display_path

TEMPLATE_NAME = "_template.yaml"


@dataclass(frozen=True)
class Member:
    """One loaded stack of the fleet."""

    name: str  # Pulumi stack name: `prod`, `customer-acme`
    path: Path
    stack: Stack
    sources: SourceMap

    @property
    def customer(self) -> str | None:
        """`acme` for `customer-acme`; None for the environment stacks."""
        return self.name[len(CUSTOMER_PREFIX) :] if self.name.startswith(CUSTOMER_PREFIX) else None


@dataclass(frozen=True)
class LoadFailure:
    """A stack file that does not load; its diagnostics may point into a shared base file."""

    name: str
    path: Path
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class Fleet:
    stacks_dir: Path
    members: tuple[Member, ...]
    failures: tuple[LoadFailure, ...] = ()
    worker_src: Path | None = field(default=None, compare=False)

    @property
    def project_dir(self) -> Path:
        """The project the stacks belong to (where `Pulumi.yaml` and `Pulumi.<stack>.yaml` live)."""
        return self.stacks_dir.parent

    @property
    def customers(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.customer is not None)

    def customer_names(self) -> list[str]:
        """Every customer with a stack file, loaded or not, sorted."""
        names = {m.customer for m in self.customers} | {
            f.name[len(CUSTOMER_PREFIX) :] for f in self.failures if f.name.startswith(CUSTOMER_PREFIX)
        }
        return sorted(n for n in names if n is not None)

    def member(self, name: str) -> Member:
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)


def stacks_folder(stacks_dir: Path | None) -> Path:
    """`stacks_dir`, or the project's `stacks/` (found from the working directory)."""
    return stacks_dir or find_project().stacks_dir


def customers_dir(stacks_dir: Path) -> Path:
    return stacks_dir / CUSTOMERS_DIR_NAME


def template_path(stacks_dir: Path) -> Path:
    return customers_dir(stacks_dir) / TEMPLATE_NAME


def load_member(path: Path, stacks_dir: Path, worker_src: Path | None) -> Member | LoadFailure:
    name = stack_name(path, stacks_dir)
    try:
        stack, sources = load_stack_with_sources(path, worker_src=worker_src)
    except StackError as exc:
        return LoadFailure(name, path, tuple(exc.diagnostics))
    return Member(name, path, stack, sources)


def load_fleet(
    stacks_dir: Path | None = None, *, worker_src: Path | None = None, extra: Iterable[Path] = ()
) -> Fleet:
    """Load every stack file under `stacks_dir` (default: the project's; plus `extra` files)."""
    stacks_dir = stacks_folder(stacks_dir)
    members: list[Member] = []
    failures: list[LoadFailure] = []
    for path in [*list_stack_files(stacks_dir), *extra]:
        loaded = load_member(path, stacks_dir, worker_src)
        (members if isinstance(loaded, Member) else failures).append(loaded)  # type: ignore[arg-type]
    return Fleet(stacks_dir, tuple(members), tuple(failures), worker_src)


def failure_lines(failures: Iterable[LoadFailure]) -> list[str]:
    """One line per distinct diagnostic. A problem in a shared file (base, template) names the stacks
    it breaks, so a template change that breaks every customer says which ones."""
    affected: dict[Diagnostic, list[str]] = {}
    own_file: dict[Diagnostic, bool] = {}
    for failure in failures:
        shown = display_path(failure.path)
        for diagnostic in failure.diagnostics:
            affected.setdefault(diagnostic, []).append(failure.name)
            own_file[diagnostic] = own_file.get(diagnostic, False) or diagnostic.file == shown
    lines = []
    for diagnostic in sorted(affected):
        names = sorted(set(affected[diagnostic]))
        line = str(diagnostic)
        if not own_file[diagnostic]:
            line += f" (breaks {len(names)} stack(s): {', '.join(names)})"
        lines.append(line)
    return lines
