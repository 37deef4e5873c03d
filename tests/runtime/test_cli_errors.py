"""`edgestack dev` failures end with one clear line and exit code 1, never a traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .harness import REPO, free_port, run_cli

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


def _start_dev(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    """`edgestack dev` on the minimal stack, in its own process group (like a terminal's job)."""
    stack, src = _worker(tmp_path, {"entry.py": ENTRY, "helper.py": "VALUE = 'ok'\n"})
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))",
            "dev",
            str(stack),
            "--port",
            "0",
            "--state",
            str(tmp_path / "state"),
            "--worker-src",
            str(src),
            *extra,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Ready in"):
            return process
    process.kill()
    raise AssertionError(f"edgestack dev did not start: {process.communicate()[1]}")


def _children(parent: int) -> list[tuple[int, str]]:
    """(pid, command line) of each child process of `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_text(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append((int(stat.parent.name), cmdline))
    return found


def _host_pid(parent: int) -> int:
    for pid, cmdline in _children(parent):
        if "host.mjs" in cmdline:
            return pid
    raise AssertionError("no runtime host process found")


def _kill_host(dev_pid: int) -> None:
    """SIGKILL the host as a crash would; its workerd children, orphaned then, are ended too."""
    host = _host_pid(dev_pid)
    orphans = [pid for pid, _ in _children(host)]
    os.kill(host, signal.SIGKILL)
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("watch", [False, True], ids=["plain", "watch"])
def test_a_host_that_dies_ends_dev_with_one_line_naming_it(tmp_path: Path, watch: bool) -> None:
    process = _start_dev(tmp_path, *(["--watch"] if watch else []))
    try:
        _kill_host(process.pid)
        _, stderr = process.communicate(timeout=30)  # a bound, not a speed requirement
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("edgestack dev:")]
    assert len(lines) == 1 and "the runtime host (node host.mjs, pid" in lines[0], stderr
    assert "was killed by SIGKILL" in lines[0] and "Traceback" not in stderr


def test_ctrl_c_with_watch_stops_cleanly_with_exit_0(tmp_path: Path) -> None:
    process = _start_dev(tmp_path, "--watch")
    try:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "edgestack dev: stopping" in stderr and "unexpectedly" not in stderr, stderr
