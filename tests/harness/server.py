"""Serves `app.router.handle` over real HTTP/1.1 on 127.0.0.1, in-process under CPython.

This is the stand-in for the Worker runtime in tests and benchmarks: a fresh gateway "isolate"
(`app.gateway.state.ISOLATE` reset), `Services` built from the binding fakes in `bindings.py`, a
keep-alive h11 fetcher (`fetcher.py`), and an asyncio + h11 server on its own thread, so ordinary
blocking clients (the official `openai` and `anthropic` SDKs) can talk to it. Streaming responses go out with chunked
transfer encoding as the handler yields them. The client IP is `cf-connecting-ip` when a test sends it
(the edge sets it on Cloudflare), else the socket peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "worker_src") not in sys.path:
    sys.path.insert(0, str(REPO / "worker_src"))

import h11  # noqa: E402
from app.config import BuildInfo  # noqa: E402
from app.gateway.state import ISOLATE  # noqa: E402
from app.http import HttpRequest, HttpResponse  # noqa: E402
from app.router import handle  # noqa: E402
from app.services import Services  # noqa: E402

from .bindings import (  # noqa: E402
    BackgroundTasks,
    FakeClock,
    FakeRateLimiter,
    FakeWorkersAi,
    InMemoryKv,
    RecordingSleep,
    SqliteD1,
    budget_counters,
)
from .fetcher import H11Fetcher  # noqa: E402
from .planned import runtime_config  # noqa: E402

MAX_REQUEST_BYTES = 200 * 1024 * 1024


@dataclass
class HarnessBindings:
    """The fakes behind one harness; tests reach in to seed or inspect them."""

    clock: Callable[[], float]
    sleep: RecordingSleep
    kv: dict[str, InMemoryKv] = field(default_factory=dict)
    d1: dict[str, SqliteD1] = field(default_factory=dict)
    rate_limits: dict[str, FakeRateLimiter] = field(default_factory=dict)
    ai: FakeWorkersAi | None = None
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    durable_objects: dict[str, Any] = field(default_factory=dict)


def default_bindings(
    clock: Callable[[], float] | None = None,
    real_sleep: bool = False,
    rate_limit: tuple[int, int] = (1000, 60),
) -> HarnessBindings:
    """The bindings `stacks/local.yaml` declares for the gateway: KV `CACHE`, D1 `DB`, `RATE_LIMITER`, `AI`."""
    import time

    clock = clock or time.time
    sleep = RecordingSleep(real=real_sleep, clock=clock if isinstance(clock, FakeClock) else None)
    return HarnessBindings(
        clock=clock,
        sleep=sleep,
        kv={"CACHE": InMemoryKv(clock)},
        d1={"DB": SqliteD1()},
        rate_limits={"RATE_LIMITER": FakeRateLimiter(rate_limit[0], rate_limit[1], clock)},
        ai=FakeWorkersAi(),
        durable_objects={"BUDGETS": budget_counters()},
    )


class GatewayHarness:
    """Runs the Worker core behind real HTTP. Use as a context manager; `base_url` is the root URL."""

    def __init__(
        self,
        config: Mapping[str, Any],  # decoded EDGESTACK_CONFIG, as `harness.planned.planned_config` builds it
        secrets: Mapping[str, str] | None = None,
        bindings: HarnessBindings | None = None,
        stack: str = "harness",
    ) -> None:
        self.bindings = bindings or default_bindings()
        self.fetcher = H11Fetcher()
        self.services = Services(
            build=BuildInfo(stack=stack, bundle_version="harness"),
            config=runtime_config(config),
            fetch=self.fetcher,
            wait_until=self.bindings.background,
            clock=self.bindings.clock,
            sleep=self.bindings.sleep,
            kv=self.bindings.kv,
            d1=self.bindings.d1,
            rate_limits=self.bindings.rate_limits,
            ai=self.bindings.ai,
            secrets=dict(secrets or {}),
            durable_objects=self.bindings.durable_objects,
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="gateway-harness", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> GatewayHarness:
        ISOLATE.reset()  # a fresh isolate: no breaker, latency or config state from earlier runs
        self._thread.start()
        self._server = self.call(asyncio.start_server(self._on_connection, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        with contextlib.suppress(Exception):
            self.drain()
        self.call(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()
        self._server = None

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._connections.values():
            writer.transport.abort()  # idle keep-alive connections: their read returns, the task ends
        await asyncio.wait(list(self._connections), timeout=5) if self._connections else None
        await self.fetcher.aclose()

    def __enter__(self) -> GatewayHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the harness loop from the calling thread."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def drain(self) -> None:
        """Wait for every `wait_until` task (usage records, cache writes, KV summaries)."""
        self.call(self.bindings.background.drain())

    def wait_for_closed_connections(self) -> None:
        """Wait until every client connection has ended on the server side (its response stream
        closed): after a client hangs up, the server sees it on its next write."""
        self.call(self._connections_ended())

    async def _connections_ended(self) -> None:
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=25)

    # ------------------------------------------------------------ HTTP

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, h11.RemoteProtocolError):
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        peer = writer.get_extra_info("peername")
        while True:
            request = await self._read_request(conn, reader, peer[0] if peer else "")
            if request is None:
                return
            response = await handle(request, self.services)
            await self._write_response(conn, writer, request, response)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, peer_ip: str
    ) -> HttpRequest | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body.extend(event.data)
                if len(body) > MAX_REQUEST_BYTES:
                    return None
            elif isinstance(event, h11.EndOfMessage):
                break
        assert head is not None
        headers: dict[str, str] = {}
        for name, value in head.headers:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        host = headers.get("host", f"127.0.0.1:{self.port}")
        return HttpRequest(
            method=head.method.decode(),
            url=f"http://{host}{head.target.decode('latin-1')}",
            headers=headers,
            body=bytes(body),
            client_ip=headers.get("cf-connecting-ip", peer_ip),
        )

    async def _write_response(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: HttpRequest, response: HttpResponse
    ) -> None:
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding")
        ]
        if response.stream is None:
            headers.append(("content-length", str(len(response.body))))
        if request.method == "HEAD":
            writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)))
            if response.stream is not None:
                await _close_stream(response.stream)
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            return
        if response.stream is None:
            head = conn.send(h11.Response(status_code=response.status, headers=headers))
            writer.write(head + conn.send(h11.Data(data=response.body)) + conn.send(h11.EndOfMessage()))
            await writer.drain()
            return
        writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)))
        await writer.drain()
        try:
            async for chunk in response.stream:
                if chunk:
                    writer.write(conn.send(h11.Data(data=chunk)))
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            await _close_stream(response.stream)  # the client went away: stop the upstream
            raise
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()


async def _close_stream(stream: Any) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
