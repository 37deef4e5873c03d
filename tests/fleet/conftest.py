"""Fixtures for the fleet tests: a copy of the shipped stacks in a temp folder, run from there."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`<tmp>/stacks`, a copy of the shipped stacks; the working directory is `<tmp>`, so diagnostics
    name files as `stacks/customers/acme.yaml`."""
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "stacks"


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
