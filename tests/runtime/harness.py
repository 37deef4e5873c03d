"""Start and stop a runtime for tests, in-process through `DevSession` (the code `edgestack dev` runs)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.dev.host_config import HttpLimits
from infra.dev.session import DevOptions, DevSession

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RunningRuntime:
    session: DevSession
    url: str
    log_file: Path
    admin_token: str

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8") if self.log_file.exists() else ""

    def stop(self) -> None:
        self.session.close()

    def restart(self) -> None:
        """Stop the host (draining waitUntil work) and start a new one on the same state folder."""
        self.session.stop()
        ready = self.session.start(announce=False)
        self.url = ready.url


def start_runtime(
    stack: Path, worker_src: Path, state: Path, *, port: int = 0, http_limits: HttpLimits | None = None
) -> RunningRuntime:
    log_file = state.parent / f"{state.name}-host.log"
    session = DevSession(
        DevOptions(
            stack=str(stack),
            port=port,
            state_dir=state,
            worker_src=worker_src,
            auto_install=False,
            embedder="hashing",
            log_file=log_file,
            http_limits=http_limits,
        ),
        out=lambda text: None,
    )
    try:
        ready = session.start()
    except BaseException:
        session.close()
        raise
    return RunningRuntime(session, ready.url, log_file, session.admin_token)


def wait_for(predicate, timeout_s: float = 20.0, interval_s: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy (returning it) or fail after `timeout_s` (never a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


def run_cli(*args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`edgestack ...` in a subprocess, for failures that end the command."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
