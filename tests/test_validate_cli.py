"""`edgestack validate`: exit codes, one line per problem, every stack by default, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.cli import main
from tests.conftest import FIXTURE_WORKER_SRC, MALFORMED_DIR

VALID_BASE = (MALFORMED_DIR / "_parts" / "valid_base.yaml").read_text()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out.splitlines(), err


def test_no_argument_validates_every_shipped_stack(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate"], capsys)
    assert (code, out, err) == (0, [], "edgestack validate: 7 stack file(s) OK\n")


def test_stack_names_and_paths(at_repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "prod", "customer-acme", "stacks/dev.yaml", "stacks/prod.yaml"], capsys)
    assert (code, out) == (0, [])
    assert err == "edgestack validate: 4 stack file(s) OK\n"


def test_unknown_stack_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "prod", "prdo"], capsys)
    assert code == 1
    assert out == [
        "edgestack validate: unknown stack 'prdo' (did you mean 'prod'?) "
        "(available: customer-acme, customer-globex, dev, local, prod, staging)"
    ]
    assert err == "edgestack validate: 1 error(s) in 0 of 1 stack file(s)\n"


def test_only_unknown_stacks_print_one_line_each_and_no_count(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "prd"], capsys)
    assert code == 1 and err == ""
    assert out == [
        "edgestack validate: unknown stack 'prd' (did you mean 'prod'?) "
        "(available: customer-acme, customer-globex, dev, local, prod, staging)"
    ]


def test_a_broken_base_is_reported_once_for_all_its_overlays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stacks" / "customers").mkdir(parents=True)
    (tmp_path / "stacks" / "_base.yaml").write_text(
        VALID_BASE.replace("  vars:\n", "  cpu_ms: lots\n  vars:\n").replace(
            "migrations: migrations", f"migrations: {MALFORMED_DIR / '_parts' / 'migrations'}"
        )
    )
    for name in ("a", "b"):
        (tmp_path / "stacks" / "customers" / f"{name}.yaml").write_text(
            f"extends: ../_base.yaml\nname_prefix: {name}\n"
        )
    (tmp_path / "stacks" / "customers" / "c.yaml").write_text("extends: ../_base.yaml\nname_prefix: C\n")
    code, out, err = run(["validate", "--worker-src", str(FIXTURE_WORKER_SRC), "stacks"], capsys)
    assert code == 1
    assert out == [
        "stacks/_base.yaml:11:11: worker.cpu_ms: expected an integer, got 'lots'",
        "stacks/customers/c.yaml:2:14: name_prefix: expected lowercase letters, digits and dashes, "
        "starting with a letter, at most 40 characters, got 'C'",
    ]
    assert err == "edgestack validate: 2 error(s) in 3 of 3 stack file(s)\n"


def test_folder_without_stack_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", str(tmp_path)], capsys)
    assert code == 1
    assert out == [f"edgestack validate: {tmp_path}: no stack files in this folder"]


def test_missing_file_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", str(tmp_path / "gone.yaml")], capsys)
    assert (code, out) == (1, [f"edgestack validate: {tmp_path / 'gone.yaml'}: no such stack file"])


def test_unreadable_yaml_in_a_named_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"a: [\x00\n")
    code, out, _ = run(["validate", str(path)], capsys)
    assert code == 1
    assert out == [f"{path}:1:5: <root>: invalid YAML: unacceptable character #x0000"]


@pytest.mark.parametrize("command", [["validate"], ["check"], ["synth", "--format", "json"]], ids=lambda c: c[0])
def test_an_absolute_stack_path_from_outside_the_project_finds_its_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no Pulumi.yaml here or above
    prod = Path(__file__).resolve().parents[1] / "stacks" / "prod.yaml"
    code = main([*command, str(prod)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "not inside an edgestack project" not in out + err
