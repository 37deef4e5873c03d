"""Every malformed stack file in tests/malformed/ produces exactly the one-line errors it declares.

Each case ends with one or more `# expect: <line>` comments: the exact `str(Diagnostic)` lines, as
printed from the repository root. Cases extend `_parts/valid_base.yaml` and break one thing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.cli import main
from infra.stackfile.diagnostics import StackError
from infra.stackfile.load import load_stack
from tests.conftest import FIXTURE_WORKER_SRC, MALFORMED_DIR

EXPECT = "# expect: "
CASES = sorted(MALFORMED_DIR.glob("*.yaml"))


def expected_lines(case: Path) -> list[str]:
    text = case.read_bytes().decode("utf-8", errors="replace")
    return [line[len(EXPECT) :] for line in text.splitlines() if line.startswith(EXPECT)]


def test_corpus_is_substantial() -> None:
    assert len(CASES) >= 15
    assert all(expected_lines(case) for case in CASES), "every case declares its expected error"


def test_valid_base_of_the_corpus_is_valid(at_repo_root: Path) -> None:
    stack = load_stack(MALFORMED_DIR / "_parts" / "valid_base.yaml", worker_src=FIXTURE_WORKER_SRC)
    assert stack.script_name == "corpus-api"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_malformed_case_gives_its_exact_error(case: Path, at_repo_root: Path) -> None:
    relative = case.relative_to(at_repo_root)
    with pytest.raises(StackError) as caught:
        load_stack(relative, worker_src=FIXTURE_WORKER_SRC)
    assert [str(d) for d in caught.value.diagnostics] == expected_lines(case)
    assert all("\n" not in str(d) for d in caught.value.diagnostics)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_validate_cli_prints_the_same_lines(
    case: Path, at_repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    relative = str(case.relative_to(at_repo_root))
    code = main(["validate", "--worker-src", str(FIXTURE_WORKER_SRC), relative])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.splitlines() == expected_lines(case)
    assert "Traceback" not in out + err
