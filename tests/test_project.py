"""The project is found from the working directory (upward search for Pulumi.yaml, as `pulumi` does),
not from where edgestack is installed: a second clone checks its own stacks and Worker source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.cli import main
from infra.plan.bundle import load_bundle
from infra.stackfile.names import list_stack_files, resolve_stack_path, stack_name
from infra.stackfile.project import ProjectNotFoundError, find_project, project_relative
from tests.conftest import REPO_ROOT


@pytest.fixture
def second_clone(tmp_path: Path) -> Path:
    """A copy of this project's Pulumi.yaml, stacks/ and worker_src/, with one extra stack."""
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(REPO_ROOT / "Pulumi.yaml", clone / "Pulumi.yaml")
    shutil.copytree(REPO_ROOT / "stacks", clone / "stacks")
    shutil.copytree(
        REPO_ROOT / "worker_src", clone / "worker_src", ignore=shutil.ignore_patterns("__pycache__")
    )
    (clone / "stacks" / "only-here.yaml").write_text((clone / "stacks" / "prod.yaml").read_text())
    return clone


def test_the_project_is_the_nearest_folder_with_pulumi_yaml(second_clone: Path) -> None:
    deep = second_clone / "worker_src" / "app"
    assert find_project(deep).root == second_clone.resolve()
    assert find_project(second_clone).stacks_dir == second_clone.resolve() / "stacks"


def test_outside_any_project_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError) as caught:
        find_project(tmp_path)
    assert str(caught.value).startswith(
        f"{tmp_path.resolve()}: not inside an edgestack project (no Pulumi.yaml"
    )
    assert "\n" not in str(caught.value)


def test_names_resolve_in_the_clone_they_are_run_in(
    second_clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(second_clone / "worker_src")
    root = second_clone.resolve()
    assert resolve_stack_path("only-here") == root / "stacks" / "only-here.yaml"
    assert root / "stacks" / "only-here.yaml" in list_stack_files()
    assert stack_name(root / "stacks" / "customers" / "acme.yaml") == "customer-acme"
    assert project_relative(root / "stacks" / "migrations" / "db") == "stacks/migrations/db"


def test_check_in_a_second_clone_checks_that_clone(
    second_clone: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the installed package's stacks were checked, whatever the working directory."""
    entry = second_clone / "worker_src" / "entry.py"
    entry.write_text(entry.read_text() + "\n\ndef _probe(env):\n    return env.ONLY_IN_THE_CLONE\n")
    monkeypatch.chdir(second_clone)
    code = main(["check"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "in 8 stack(s)" in err  # the 7 shipped stacks + only-here.yaml
    assert any(
        line.startswith("worker_src/entry.py:") and "ONLY_IN_THE_CLONE" in line for line in out.splitlines()
    )
    assert load_bundle().sha256 != load_bundle(REPO_ROOT / "worker_src").sha256


def test_commands_outside_a_project_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (["validate"], ["check"], ["synth", "prod"]):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 1, argv
        assert "not inside an edgestack project" in out + err
        assert "Traceback" not in out + err


def test_local_secrets_and_generated_files_are_ignored_by_git() -> None:
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    names = [".dev.vars", "wrangler.jsonc", ".edgestack/state/x", "dist/bundle.tar"]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *names], cwd=repo, capture_output=True, text=True, check=False
    ).stdout.split()
    assert ignored == names
