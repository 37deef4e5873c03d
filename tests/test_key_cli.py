"""`edgestack key new`: a random key printed once, and a stack-file entry the Worker accepts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from infra.cli import main
from infra.spec.apps import VirtualKeySpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker_src"))

from app.web.auth import hash_key  # noqa: E402


def run_key_new(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, dict[str, dict[str, object]]]:
    assert main(["key", "new", *args]) == 0
    first, _, *entry = capsys.readouterr().out.splitlines()
    return first.rsplit(" ", 1)[1], yaml.safe_load("\n".join(line[2:] for line in entry))


def test_key_new_prints_a_random_key_and_the_entry_the_worker_checks(capsys: pytest.CaptureFixture[str]) -> None:
    key, entry = run_key_new(capsys, "acme-app", "--scope", "acme", "--admin")
    other, _ = run_key_new(capsys)
    assert key != other and key.startswith("sk-es-") and len(key) == len("sk-es-") + 32  # 192 bits
    spec = VirtualKeySpec.model_validate(entry["acme-app"])
    assert (spec.sha256, spec.scope, spec.admin) == (hash_key(key), "acme", True)


@pytest.mark.parametrize(("args", "says"), [(["--scope", "a/b"], "--scope 'a/b'"), (["bad name"], "NAME 'bad name'")])
def test_key_new_refuses_bad_names_in_one_line(capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    assert main(["key", "new", *args]) == 1
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
