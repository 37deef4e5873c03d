"""`edgestack init [DIR] [--force]`: scaffold a new project that `validate`, `synth` and `dev` work in.

It writes `Pulumi.yaml` (with a `__main__.py` running edgestack's deploy program), `pyproject.toml`,
`stacks/` (base, local, prod: an AI gateway whose local routes end at `local/echo`), `worker_src/`
(edgestack's Worker: the gateway and the rest, off unless a stack enables it), `.gitignore` and a
README. A folder that is not empty is refused unless `--force` (then existing files are replaced).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Annotated

import typer

from .app import CommandError, app

SCAFFOLD = Path(__file__).resolve().parent / "scaffold"
# scaffold file -> where it goes in the project
FILES = {
    "Pulumi.yaml": "Pulumi.yaml",
    "__main__.py.tmpl": "__main__.py",
    "pyproject.toml": "pyproject.toml",
    "gitignore": ".gitignore",
    "README.md": "README.md",
    "stacks/base.yaml": "stacks/base.yaml",
    "stacks/local.yaml": "stacks/local.yaml",
    "stacks/prod.yaml": "stacks/prod.yaml",
}
WORKER_FILES = ("entry.py", "js_bindings.py", "app")


def project_name(folder: Path) -> str:
    """A Pulumi project name and resource-name prefix from the folder name (lower-case, dashes)."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"app-{name}".rstrip("-")
    return name[:40].rstrip("-")


def _copy_worker(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in WORKER_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source / name, target / name)


def tested_compatibility_date() -> str:
    """The compatibility date of edgestack's own local stack: the one its runtime and tests run."""
    import yaml

    from infra.stackfile.project import TOOL_ROOT

    stack = yaml.safe_load((TOOL_ROOT / "stacks" / "local.yaml").read_text(encoding="utf-8"))
    return str(stack["worker"]["compatibility_date"])


def scaffold(folder: Path, *, force: bool = False, compatibility_date: str | None = None) -> list[Path]:
    """Write the project into `folder`; returns the files written. Raises `CommandError` (one line)."""
    from infra.stackfile.project import TOOL_ROOT

    if folder.exists() and not folder.is_dir():
        raise CommandError(f"{folder}: not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise CommandError(f"{folder}: not empty; pass --force to write the project into it anyway")
    name = project_name(folder)
    date = compatibility_date or tested_compatibility_date()
    values = {"name": name, "prefix": name[:24].rstrip("-"), "compatibility_date": date}
    written = []
    for source, target in FILES.items():
        path = folder / target
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (SCAFFOLD / source).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(f"{{{key}}}", value)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    _copy_worker(TOOL_ROOT / "worker_src", folder / "worker_src")
    written.append(folder / "worker_src")
    return written


@app.command(
    "init",
    help="Scaffold a new project: Pulumi.yaml, pyproject.toml, base/local/prod stacks with the AI "
    "gateway, worker_src/, .gitignore and a README. Refuses a folder that is not empty unless --force.",
    short_help="scaffold a new project (stacks, worker_src, Pulumi.yaml) that validate, synth and dev work in",
)
def init(
    folder: Annotated[
        Path, typer.Argument(metavar="[DIR]", help="where to create it (default: here)", show_default=False)
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="write into a folder that is not empty")] = False,
) -> int:
    written = scaffold(folder, force=force)
    shown = folder if folder != Path(".") else Path.cwd()
    print(f"edgestack init: wrote {len(written)} entries to {shown}")
    print(f"  next: cd {shown} && edgestack validate && edgestack dev")
    return 0
