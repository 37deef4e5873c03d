"""`edgestack check`: `env.NAME` uses in worker_src (read with ast) against what the stack declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.cli import main
from infra.stackfile.worker_scan import durable_object_classes, plain_text_binding_names, scan_env_usages
from tests.conftest import MALFORMED_DIR, REPO_ROOT

ENTRY = """\
from workers import DurableObject, WorkerEntrypoint

from app.config import STACK_BINDING
from app.handlers import handle


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        cache = self.env.CACHE
        stack = getattr(self.env, STACK_BINDING, "")
        return await handle(self.env, cache, stack)


class AgentState(DurableObject):
    async def fetch(self, request):
        return self.env.DB
"""
CONFIG = """\
STACK_BINDING = "EDGESTACK_STACK"
CONFIG_BINDING: str = "EDGESTACK_CONFIG"
OTHER = "not-a-binding"
"""
HANDLERS = """\
from .config import CONFIG_BINDING as CFG

SEARCH_KEY = "SEARCH"


async def handle(env, cache, stack):
    raw = getattr(env, CFG)
    if hasattr(env, "FEATURE_FLAGS"):
        pass
    env.get("x")  # a method, not a binding
    environment = object()
    environment.MISSING  # not `env`
    return env.UNDECLARED, getattr(env, SEARCH_KEY, None), raw
"""


@pytest.fixture
def worker_src(tmp_path: Path) -> Path:
    root = tmp_path / "worker_src"
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "entry.py").write_text(ENTRY)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "config.py").write_text(CONFIG)
    (root / "app" / "handlers.py").write_text(HANDLERS)
    (root / "tests" / "test_x.py").write_text("env.IGNORED_IN_TESTS\n")
    return root


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    doc = yaml.safe_load((MALFORMED_DIR / "_parts" / "valid_base.yaml").read_text())
    doc["bindings"]["d1"]["DB"]["migrations"] = str(MALFORMED_DIR / "_parts" / "migrations")
    doc["bindings"]["kv"]["UNUSED_KV"] = {}
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from tmp_path, so the CLI names files as `stack.yaml` and `worker_src/...`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out.splitlines(), err


def test_scan_finds_every_kind_of_use(worker_src: Path) -> None:
    usages, problems = scan_env_usages(worker_src)
    assert problems == []
    found = sorted((u.file.relative_to(worker_src).as_posix(), u.line, u.col, u.name) for u in usages)
    assert found == [
        ("app/handlers.py", 7, 24, "EDGESTACK_CONFIG"),
        ("app/handlers.py", 8, 21, "FEATURE_FLAGS"),
        ("app/handlers.py", 13, 12, "UNDECLARED"),
        ("app/handlers.py", 13, 41, "SEARCH"),
        ("entry.py", 9, 17, "CACHE"),
        ("entry.py", 10, 35, "EDGESTACK_STACK"),
        ("entry.py", 16, 16, "DB"),
    ]


def test_plain_text_bindings_and_classes(worker_src: Path) -> None:
    assert plain_text_binding_names(worker_src) == {"EDGESTACK_STACK", "EDGESTACK_CONFIG"}
    assert durable_object_classes(worker_src) == {"AgentState": 14}


def test_check_reports_undeclared_uses_and_unused_declarations(
    in_tmp: Path, worker_src: Path, stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = stack.read_text().splitlines()
    log_level = lines.index("    LOG_LEVEL: info") + 1
    unused_kv = lines.index("    UNUSED_KV: {}") + 1
    code, out, err = run(["check", "--worker-src", "worker_src", "stack.yaml"], capsys)
    assert code == 1
    assert out == [
        f"stack.yaml:{log_level}:5: worker.vars.LOG_LEVEL: warning: 'LOG_LEVEL' is declared but no Worker code or "
        "runtime section uses it",
        f"stack.yaml:{unused_kv}:5: bindings.kv.UNUSED_KV: warning: 'UNUSED_KV' is declared but no Worker code or "
        "runtime section uses it",
        "worker_src/app/handlers.py:8:21: env.FEATURE_FLAGS: 'FEATURE_FLAGS' is not declared by stack.yaml "
        "(no binding, var or secret with that name)",
        "worker_src/app/handlers.py:13:12: env.UNDECLARED: 'UNDECLARED' is not declared by stack.yaml "
        "(no binding, var or secret with that name)",
        "worker_src/app/handlers.py:13:41: env.SEARCH: 'SEARCH' is not declared by stack.yaml "
        "(no binding, var or secret with that name)",
    ]
    assert err == "edgestack check: 3 error(s), 2 warning(s) in 1 stack(s)\n"


def test_warnings_alone_exit_zero(in_tmp: Path, stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = in_tmp / "quiet_src"
    root.mkdir()
    (root / "entry.py").write_text(
        "from workers import DurableObject\n\n\nclass AgentState(DurableObject):\n    pass\n"
    )
    code, out, err = run(["check", "--worker-src", "quiet_src", "stack.yaml"], capsys)
    assert code == 0
    assert [line.split(": ", 2)[1] for line in out] == ["worker.vars.LOG_LEVEL", "bindings.kv.UNUSED_KV"]
    assert err == "edgestack check: 0 error(s), 2 warning(s) in 1 stack(s)\n"


def test_a_module_that_does_not_parse_is_an_error(
    in_tmp: Path, worker_src: Path, stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (worker_src / "app" / "broken.py").write_text("def f(:\n")
    code, out, _ = run(["check", "--worker-src", "worker_src", "stack.yaml"], capsys)
    assert code == 1
    assert "worker_src/app/broken.py:1:7: <root>: syntax error: invalid syntax" in out


def test_invalid_stack_prints_its_diagnostics(
    in_tmp: Path, worker_src: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "bad.yaml").write_text("account_id: 12\n")
    code, out, _ = run(["check", "--worker-src", "worker_src", "bad.yaml"], capsys)
    assert code == 1
    assert out == [
        "bad.yaml:1:1: name_prefix: required key is missing",
        "bad.yaml:1:1: worker: required key is missing",
        "bad.yaml:1:13: account_id: expected a string, got 12 (quote it)",
    ]


def test_unknown_stack_and_missing_worker_src(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", "nope"], capsys)
    assert code == 1 and out[0].startswith("unknown stack 'nope' (available: customer-acme, ")
    code, out, _ = run(["check", "--worker-src", str(tmp_path / "none"), "prod"], capsys)
    assert (code, out) == (1, [f"{tmp_path / 'none'}: Worker source folder not found"])


def test_the_repository_worker_passes_against_every_shipped_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    code, out, _ = run(["check"], capsys)
    assert code == 0
    assert all(": warning: " in line for line in out)


def test_the_shipped_stacks_pass_check_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    code, out, err = run(["check"], capsys)
    assert (code, out) == (0, [])
    assert "0 error(s), 0 warning(s) in" in err, err
