"""`Fetcher` for CPython runs (the stand-in for `workers.fetch`): HTTP/1.1 over asyncio streams with h11,
keep-alive connection pooling, streamed bodies, and transport failures mapped to `UpstreamError`.

A lean client on purpose: the harness measures the gateway, not a client library's pool bookkeeping.
`timeout_ms` bounds connecting, waiting for the response head, and each wait for body data (a stalled
upstream times out; a long healthy stream does not).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import h11
from app.bindings import UpstreamError, UpstreamResponse

READ_SIZE = 65536
MAX_IDLE_PER_ORIGIN = 64


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    async def next_event(self, timeout_s: float) -> object:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(self.reader.read(READ_SIZE), timeout_s)
            self.h11.receive_data(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class H11Fetcher:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None
        self.calls = 0

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _connect(self, origin: tuple[str, str, int], timeout_s: float) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            self._ssl = self._ssl or ssl.create_default_context()
            context = self._ssl
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), timeout_s)
        return _Connection(reader, writer)

    async def __call__(
        self, url: str, *, method: str, headers: Mapping[str, str], body: bytes | None, timeout_ms: int
    ) -> UpstreamResponse:
        self.calls += 1
        parts = urlsplit(url)
        origin = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        timeout_s = timeout_ms / 1000
        request_headers = [
            ("host", parts.netloc),
            *headers.items(),
            ("content-length", str(len(body or b""))),
        ]
        request = h11.Request(method=method, target=target, headers=request_headers)
        idle = self._idle.setdefault(origin, [])
        while True:
            reused = bool(idle)
            try:
                connection = idle.pop() if reused else await self._connect(origin, timeout_s)
            except TimeoutError:
                raise UpstreamError(f"timed out after {timeout_ms} ms connecting to {origin[1]}") from None
            except OSError as error:
                raise UpstreamError(f"connection to {origin[1]} failed: {error}") from None
            try:
                connection.writer.write(
                    connection.h11.send(request)
                    + connection.h11.send(h11.Data(data=body or b""))
                    + connection.h11.send(h11.EndOfMessage())
                )
                head = await connection.next_event(timeout_s)
            except TimeoutError:
                connection.close()
                raise UpstreamError(f"timed out after {timeout_ms} ms waiting for {origin[1]}") from None
            except (OSError, h11.ProtocolError, asyncio.IncompleteReadError) as error:
                connection.close()
                if reused:
                    continue  # a pooled connection the server had closed: retry once on a fresh one
                raise UpstreamError(
                    f"connection to {origin[1]} failed: {type(error).__name__}: {error}"
                ) from None
            if isinstance(head, h11.ConnectionClosed):
                connection.close()
                if reused:
                    continue
                raise UpstreamError(f"{origin[1]} closed the connection without a response")
            break
        assert isinstance(head, h11.Response)
        response_headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in head.headers
        }
        return UpstreamResponse(
            status=head.status_code,
            headers=response_headers,
            body=self._body(connection, origin, timeout_s, timeout_ms),
        )

    async def _body(
        self, connection: _Connection, origin: tuple[str, str, int], timeout_s: float, timeout_ms: int
    ) -> AsyncIterator[bytes]:
        done = False
        try:
            while True:
                try:
                    event = await connection.next_event(timeout_s)
                except TimeoutError:
                    raise UpstreamError(
                        f"timed out after {timeout_ms} ms waiting for response data"
                    ) from None
                except (OSError, h11.ProtocolError) as error:
                    raise UpstreamError(
                        f"connection lost while reading: {type(error).__name__}: {error}"
                    ) from None
                if isinstance(event, h11.Data):
                    if event.data:
                        yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    done = True
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    raise UpstreamError("connection lost while reading: closed before the end of the body")
        finally:
            self._release(connection, origin, done)

    def _release(self, connection: _Connection, origin: tuple[str, str, int], done: bool) -> None:
        """Back to the pool after a complete keep-alive exchange; closed otherwise."""
        idle = self._idle.setdefault(origin, [])
        state = connection.h11
        if (
            done
            and state.our_state is h11.DONE
            and state.their_state is h11.DONE
            and len(idle) < MAX_IDLE_PER_ORIGIN
        ):
            state.start_next_cycle()
            idle.append(connection)
        else:
            connection.close()
