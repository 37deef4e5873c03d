"""`edgestack dev` failures end with one clear line and exit code 1, never a traceback."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest

from .harness import free_port, run_cli

MINIMAL_STACK = """\
account_id: "00000000000000000000000000000000"
name_prefix: broken
environment: local
worker:
  name: api
  compatibility_date: 2026-11-01
  python: "3.14"
"""


def _worker(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    src = tmp_path / "worker"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(textwrap.dedent(text), encoding="utf-8")
    stack = tmp_path / "stack.yaml"
    stack.write_text(MINIMAL_STACK, encoding="utf-8")
    return stack, src


ENTRY = """\
from workers import Response, WorkerEntrypoint

import helper


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(helper.VALUE)
"""


@pytest.mark.parametrize(
    ("helper", "expected"),
    [
        (
            "VALUE = 'ok'\n\nVALUE = undefined_name + 1\n",
            "helper.py:3: NameError: name 'undefined_name' is not defined",
        ),
        ("def broken(:\n    pass\n", "helper.py:1: SyntaxError:"),
    ],
    ids=["name-error", "syntax-error"],
)
def test_worker_that_fails_to_import(tmp_path: Path, helper: str, expected: str) -> None:
    stack, src = _worker(tmp_path, {"entry.py": ENTRY, "helper.py": helper})
    result = run_cli(
        "dev", str(stack), "--port", "0", "--state", str(tmp_path / "state"), "--worker-src", str(src)
    )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgestack dev:")]
    assert len(errors) == 1, result.stderr
    assert "the Worker failed to import:" in errors[0] and expected in errors[0]
    assert "Traceback" not in result.stderr


def test_port_in_use(tmp_path: Path) -> None:
    stack, src = _worker(tmp_path, {"entry.py": ENTRY, "helper.py": "VALUE = 'ok'\n"})
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = run_cli(
            "dev", str(stack), "--port", str(port), "--state", str(tmp_path / "s"), "--worker-src", str(src)
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"edgestack dev: port {port} on 127.0.0.1 is already in use: stop the other server or pass --port"
    )


def test_bad_port_and_unknown_stack() -> None:
    bad_port = run_cli("dev", "--port", "70000")
    assert bad_port.returncode == 2 and "is not a port number" in bad_port.stderr
    unknown = run_cli("dev", "no-such-stack", "--port", "0")
    assert unknown.returncode == 1 and "unknown stack 'no-such-stack'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
