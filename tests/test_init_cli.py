"""`edgestack init`: a new project that validate, check, synth and policy pass in at once; a folder
that is not empty is refused with one line unless --force."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.cli import main
from infra.cli.init import project_name, scaffold

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("new") / "My App"
    ran = _cli("init", str(folder), cwd=tmp_path_factory.getbasetemp())
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("edgestack init: wrote 9 entries to ")
    return folder


def test_the_scaffold_has_every_file(project: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py", "pyproject.toml", ".gitignore", "README.md"):
        assert (project / name).is_file(), name
    assert sorted(p.name for p in (project / "stacks").iterdir()) == ["base.yaml", "local.yaml", "prod.yaml"]
    assert (project / "worker_src" / "entry.py").is_file()
    assert (project / "worker_src" / "app" / "gateway" / "local_echo.py").is_file()
    assert not list((project / "worker_src").rglob("__pycache__"))
    assert "name: my-app" in (project / "Pulumi.yaml").read_text()
    assert ".dev.vars" in (project / ".gitignore").read_text().split()
    assert "{name}" not in (project / "README.md").read_text()


@pytest.mark.parametrize(
    "command",
    [("validate",), ("check",), ("validate", "stacks/prod.yaml"), ("policy", "check")],
    ids=lambda c: " ".join(c),
)
def test_commands_pass_in_the_new_project(project: Path, command: tuple[str, ...]) -> None:
    ran = _cli(*command, cwd=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "warning" not in ran.stdout


def test_synth_prod_runs_offline_in_the_new_project(project: Path) -> None:
    ran = _cli("synth", "prod", "--format", "json", cwd=project)
    assert ran.returncode == 0, ran.stderr
    names = {resource["name"] for resource in json.loads(ran.stdout)["resources"]}
    assert "my-app-prod-worker" in names and "my-app-prod-kv-cache" in names


def test_a_folder_that_is_not_empty_is_refused_unless_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["init", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == f"edgestack init: {tmp_path}: not empty; pass --force to write the project into it anyway\n"
    assert not (tmp_path / "Pulumi.yaml").exists()  # nothing half-written
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "Pulumi.yaml").is_file() and (tmp_path / "notes.txt").read_text() == "mine"


def test_names_and_the_compatibility_date(tmp_path: Path) -> None:
    assert project_name(tmp_path / "My App") == "my-app"
    assert project_name(tmp_path / "42") == "app-42"
    scaffold(tmp_path / "dated")
    shipped = (REPO / "stacks" / "local.yaml").read_text().split("compatibility_date: ")[1].split()[0]
    assert f"compatibility_date: {shipped}\n" in (tmp_path / "dated" / "stacks" / "base.yaml").read_text()
