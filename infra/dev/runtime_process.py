"""Starting and stopping the Node host (`node runtime/host.mjs <config>`).

The host reports with control lines on stdout (`@@edgestack {json}`): `loaded` (listening, Worker
imported; with the URL and timings; it serves only its admin API until the session signals ready),
`serving`, `error` (one line, e.g. port in use, Worker import failure) and `stopped`. Every other
line is log output and is passed on. The host exits when its stdin closes, so it never outlives
this process.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from infra.errors import EdgestackError

from .node_env import HOST_SCRIPT, RUNTIME_DIR

CONTROL_MARKER = "@@edgestack "


class RuntimeStartError(EdgestackError, RuntimeError):
    """The host did not become ready; the message is one line (from the host when it said why)."""

    def __init__(self, message: str, code: str = "start_failed") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ReadyInfo:
    url: str
    port: int
    pyodide: str
    timings: dict[str, float] = field(default_factory=dict)


def _print_line(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()


class RuntimeProcess:
    def __init__(
        self,
        node: str,
        config_file: Path,
        *,
        on_log: Callable[[str], None] = _print_line,
        stderr: IO[str] | None = None,
    ) -> None:
        self.node = node
        self.config_file = config_file
        self.on_log = on_log
        self.stderr = stderr
        self.process: subprocess.Popen[str] | None = None
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ready: ReadyInfo | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout_s: float = 180.0) -> ReadyInfo:
        """Start the host and wait until it has loaded the Worker (it is not serving it yet)."""
        self.process = subprocess.Popen(
            [self.node, str(HOST_SCRIPT), str(self.config_file)],
            cwd=RUNTIME_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,  # None: the host's and the Worker's error logs go straight to ours
            text=True,
            bufsize=1,
            # Its own process group: Ctrl-C reaches only `edgestack dev`, which stops the host
            # gracefully (SIGTERM) instead of racing it. It still exits when our stdin pipe closes.
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        try:
            event = self.events.get(timeout=timeout_s)
        except queue.Empty:
            self.kill()
            raise RuntimeStartError(f"the runtime host was not ready after {timeout_s:.0f} s") from None
        if event.get("event") == "loaded":
            self.ready = ReadyInfo(
                url=str(event["url"]),
                port=int(event["port"]),
                pyodide=str(event.get("pyodide", "")),
                timings=dict(event.get("timings", {})),
            )
            return self.ready
        self.wait(timeout_s=10)
        if event.get("event") == "error":
            raise RuntimeStartError(str(event.get("message")), str(event.get("code", "host_error")))
        code = self.process.returncode
        raise RuntimeStartError(
            f"the runtime host exited (code {code}) before it was ready; see the log above"
        )

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            if line.startswith(CONTROL_MARKER):
                try:
                    self.events.put(json.loads(line[len(CONTROL_MARKER) :]))
                    continue
                except json.JSONDecodeError:
                    pass
            self.on_log(line)
        self.events.put({"event": "exited"})

    def describe_exit(self) -> str:
        """One line naming the host process and how it ended (for a host that died by itself)."""
        process = self.process
        if process is None:
            return "the runtime host was never started"
        what = f"the runtime host (node {HOST_SCRIPT.name}, pid {process.pid})"
        code = process.poll()
        if code is None:
            return f"{what} is still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"{what} was killed by {name}"
        return f"{what} exited unexpectedly with code {code}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout_s: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout_s: float = 45.0) -> int | None:
        """Graceful stop: the host drains `waitUntil` work and closes its storage, then exits."""
        if not self.alive():
            return self.process.returncode if self.process else None
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.wait(timeout_s)
        if code is None:
            self.kill()
            code = self.process.returncode
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)
