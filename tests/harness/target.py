"""Where integration tests find the gateway: this in-process harness, or `edgestack dev`.

Tests ask a `GatewayTarget` to start a gateway for stack-file sections (`gateway`, and `rag` /
`agents` when the test brings them) and secrets, and talk to
`running.base_url` over HTTP only. Select with `EDGESTACK_GATEWAY_TARGET`:

- `harness` (default): `GatewayHarness` in this process (fake bindings, injectable clock), on the
  config the real planner ships for stacks/local.yaml with those sections (`planned.py`).
- `dev`: writes, in a fresh temporary directory, a copy of stacks/local.yaml with the test's gateway
  section and rate limit, a `.dev.vars` with the secrets and the runtime's state directory (the
  repository's files are only read), then runs `EDGESTACK_DEV_COMMAND` (default
  `python -m infra.cli dev {stack} --port {port} --state {state}` with this interpreter), waiting for a 200
  from `/healthz`. Tests that need the fake clock or to reach into bindings are marked `harness_only` and
  skip there.

`DevRuntimeTarget` is also used directly by tests marked `dev_runtime`, which run against `edgestack
dev` whatever the variable says.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from .planned import planned_config
from .server import GatewayHarness, HarnessBindings, default_bindings

REPO = Path(__file__).resolve().parents[2]


class RunningGateway(Protocol):
    base_url: str
    bindings: HarnessBindings | None  # None when the gateway runs in another process

    def drain(self) -> None:
        """Wait until background work (usage records, cache writes) has landed."""


@dataclass
class InProcessGateway:
    harness: GatewayHarness

    @property
    def base_url(self) -> str:
        return self.harness.base_url

    @property
    def bindings(self) -> HarnessBindings:
        return self.harness.bindings

    def drain(self) -> None:
        self.harness.drain()


@dataclass
class ExternalGateway:
    base_url: str
    bindings: HarnessBindings | None = None
    log_path: Path | None = None  # the runtime's output, for debugging
    timeout_s: float = 20.0

    def drain(self) -> None:
        """Poll the host's `GET /__edgestack/status` until no `waitUntil` work is pending.

        The host tracks `ctx.waitUntil` promises before the response is sent, so once the client has
        its response, its background work (usage records, cache writes) is counted here.
        """
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            status = httpx.get(self.base_url + "/__edgestack/status", timeout=5).json()
            if status["background"]["pending"] == 0:
                return
            time.sleep(0.05)
        raise TimeoutError(f"waitUntil work still pending on {self.base_url} after {self.timeout_s:.0f}s")


class GatewayTarget(Protocol):
    name: str

    def start(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        *,
        clock: Callable[[], float] | None = None,
        rate_limit: tuple[int, int] = (1000, 60),
    ) -> contextlib.AbstractContextManager[RunningGateway]: ...


class HarnessTarget:
    name = "harness"

    @contextlib.contextmanager
    def start(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        *,
        clock: Callable[[], float] | None = None,
        rate_limit: tuple[int, int] = (1000, 60),
    ) -> Iterator[RunningGateway]:
        bindings = default_bindings(clock=clock, rate_limit=rate_limit)
        with GatewayHarness(planned_config(config, tuple(secrets)), secrets, bindings) as harness:
            yield InProcessGateway(harness)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevRuntimeTarget:
    """`edgestack dev` on a generated stack file (requires the local runtime to be installed)."""

    name = "dev"

    def __init__(self, command: str | None = None) -> None:
        self.command = (
            command
            or os.environ.get(
                "EDGESTACK_DEV_COMMAND",
                DEFAULT_DEV_COMMAND,  # this interpreter's CLI: the venv need not be on PATH (CI does not activate it)
            )
        )

    @contextlib.contextmanager
    def start(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        *,
        clock: Callable[[], float] | None = None,
        rate_limit: tuple[int, int] = (1000, 60),
    ) -> Iterator[RunningGateway]:
        import yaml

        if clock is not None:
            raise RuntimeError("the dev runtime uses wall-clock time; this test is harness-only")
        with tempfile.TemporaryDirectory(prefix="edgestack-gw-") as tmp:
            folder = Path(tmp)
            stack = yaml.safe_load((REPO / "stacks" / "local.yaml").read_text())
            stack["gateway"] = dict(config["gateway"])
            for section in ("rag", "agents", "mcp"):  # they name the local stack's aliases; the test's routes differ
                if section in config:
                    stack[section] = dict(config[section])  # the test brings its own
                else:
                    stack.pop(section, None)
            stack["worker"]["secrets"] = sorted(set(stack["worker"].get("secrets", [])) | set(secrets))
            for spec in stack.get("bindings", {}).get("rate_limits", {}).values():
                spec["limit"], spec["period"] = rate_limit
            (folder / "migrations").symlink_to(REPO / "stacks" / "migrations")
            stack_path = folder / "gateway-test.yaml"
            stack_path.write_text(yaml.safe_dump(stack, sort_keys=False))
            (folder / ".dev.vars").write_text("".join(f"{k}={v}\n" for k, v in secrets.items()))
            with running_dev(self.command, stack_path, folder / "state", {**os.environ, **secrets}) as (
                base_url,
                log_path,
            ):
                yield ExternalGateway(base_url, log_path=log_path)


DEFAULT_DEV_COMMAND = shlex.quote(sys.executable) + " -m infra.cli dev {stack} --port {port} --state {state}"


@contextlib.contextmanager
def running_dev(
    command: str, stack_path: Path, state: Path, env: Mapping[str, str]
) -> Iterator[tuple[str, Path]]:
    """`edgestack dev` (`command` with {stack}, {port}, {state}) on a free port until the block ends;
    yields (base URL, log file) once /healthz answers 200."""
    port = _free_port()
    argv = shlex.split(command.format(stack=stack_path, port=port, state=state))
    log_path = (
        stack_path.parent / "edgestack-dev.log"
    )  # a file, not a pipe: a full pipe would stall the runtime
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base_url, process, log_path)
            yield base_url, log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_healthy(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 90
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")
            raise RuntimeError(f"edgestack dev exited with {process.returncode}:\n{output[-2000:]}")
        # The host answers 503 `not_ready` until `edgestack dev` has applied the D1 migrations and
        # signalled ready, so a 200 from /healthz means the stack is fully up.
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"edgestack dev did not answer /healthz on {base_url} within {timeout_s:.0f}s")


def select_target() -> GatewayTarget:
    name = os.environ.get("EDGESTACK_GATEWAY_TARGET", "harness")
    if name == "harness":
        return HarnessTarget()
    if name == "dev":
        return DevRuntimeTarget()
    raise ValueError(f"EDGESTACK_GATEWAY_TARGET must be harness or dev, got {name!r}")
