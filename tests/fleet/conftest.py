"""Fixtures for the fleet tests: a copy of the shipped stacks in a temp folder, run from there."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.cli import main

REPO = Path(__file__).resolve().parents[2]


def make_project(root: Path) -> Path:
    """A project at `root`: `Pulumi.yaml`, a copy of the shipped stacks, the Worker source (linked)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", root / "stacks")
    (root / "worker_src").symlink_to(REPO / "worker_src", target_is_directory=True)
    return root / "stacks"


@pytest.fixture
def stacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`<tmp>/stacks` of a project at `<tmp>` (see `make_project`), the working directory, so
    diagnostics name files as `stacks/customers/acme.yaml`."""
    monkeypatch.chdir(tmp_path)
    return make_project(tmp_path)


CliRun = Callable[..., tuple[int, list[str], list[str]]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], stacks: Path) -> CliRun:
    """Run `edgestack ARGS --stacks-dir <tmp>/stacks`; returns (code, stdout lines, stderr lines)."""

    def run(*args: str) -> tuple[int, list[str], list[str]]:
        code = main([*args, "--stacks-dir", str(stacks)])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out.splitlines(), err.splitlines()

    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
