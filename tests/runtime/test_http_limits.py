"""The host's HTTP limits (`HostConfig.limits`): slow clients are cut off (headers and whole-request
timeouts, against slowloris), and a body announced over the limit gets a 413 before any of it is read.
The runtime here runs with short limits so the tests wait seconds, not minutes; every wait is a
generous deadline, never a timing assertion."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from infra.dev.host_config import HttpLimits, stack_body_limit
from infra.stackfile.load import load_stack

from .conftest import FIXTURES
from .harness import REPO, RunningRuntime, start_runtime

LIMITS = HttpLimits(maxBodyBytes=64 * 1024, headersTimeoutMs=1000, requestTimeoutMs=2000)


@pytest.fixture(scope="module")
def limited_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    os.environ["API_TOKEN"] = "token-from-environment"
    runtime = start_runtime(
        FIXTURES / "stack.yaml", FIXTURES / "worker", tmp_path_factory.mktemp("state"), http_limits=LIMITS
    )
    try:
        yield runtime
    finally:
        runtime.stop()
        os.environ.pop("API_TOKEN", None)


def _address(runtime: RunningRuntime) -> tuple[str, int]:
    host, port = runtime.url.removeprefix("http://").split(":")
    return host, int(port)


def _closed_by_server(sock: socket.socket, trickle: bytes = b"", deadline_s: float = 30.0) -> bytes:
    """Keep sending `trickle` every 0.2 s until the server closes; what it sent (maybe a 408)."""
    sock.settimeout(0.2)
    received = b""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if trickle:
                sock.sendall(trickle)
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server kept the connection open for {deadline_s:.0f} s")


def test_a_body_announced_over_the_limit_is_refused_before_it_is_read(limited_runtime: RunningRuntime) -> None:
    with socket.create_connection(_address(limited_runtime), timeout=30) as sock:
        # 50 MB announced, nothing sent: the 413 can only come before reading
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n")
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 413") and b"over the limit of 65536 bytes" in reply
    small = httpx.post(limited_runtime.url + "/echo", content=b"x" * 1000, timeout=30)
    assert small.status_code == 200 and small.json()["body"] == "x" * 1000


def test_slowloris_connections_are_closed(limited_runtime: RunningRuntime) -> None:
    sockets = [socket.create_connection(_address(limited_runtime), timeout=30) for _ in range(10)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        for sock in sockets:  # each keeps sending one more header line, never the blank line
            _closed_by_server(sock, trickle=b"X-A: b\r\n")
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(limited_runtime.url + "/hello", timeout=30).status_code == 200


def test_a_body_sent_too_slowly_is_cut_off(limited_runtime: RunningRuntime) -> None:
    with socket.create_connection(_address(limited_runtime), timeout=30) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n")
        reply = _closed_by_server(sock, trickle=b"x")
    assert reply.startswith(b"HTTP/1.1 408") and b"not received in time" in reply
    assert httpx.get(limited_runtime.url + "/hello", timeout=30).status_code == 200


def test_the_body_limit_defaults_to_the_largest_the_stack_accepts() -> None:
    local = load_stack(REPO / "stacks" / "local.yaml", worker_src=REPO / "worker_src")
    assert local.rag is not None
    assert stack_body_limit(local) == local.rag.max_document_bytes  # 10 MiB > the gateway's 1 MiB
    fixture = load_stack(FIXTURES / "stack.yaml", worker_src=FIXTURES / "worker")
    assert stack_body_limit(fixture) == 100 * 1_048_576  # no gateway or RAG: Cloudflare's limit
