"""`js_bindings.stream_chunks` / `WorkersFetcher` on CPython: the per-read (idle) timeout on a
streamed upstream body. The Pyodide modules `js_bindings` imports (`js`, `pyodide.ffi`, `workers`)
are replaced by minimal stand-ins for the import only; the reader below behaves like a JS
`ReadableStreamDefaultReader` (`read()` resolves to `{done, value}`, `cancel()`)."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "worker_src") not in sys.path:
    sys.path.insert(0, str(REPO / "worker_src"))

from app.bindings import UpstreamError  # noqa: E402


class _JsProxy:
    pass


class _JsException(Exception):
    pass


def _stub_modules() -> dict[str, types.ModuleType]:
    js = types.ModuleType("js")
    js.Object = object()  # type: ignore[attr-defined]
    js.AbortController = object()  # type: ignore[attr-defined]
    pyodide = types.ModuleType("pyodide")
    ffi = types.ModuleType("pyodide.ffi")
    ffi.JsException = _JsException  # type: ignore[attr-defined]
    ffi.JsProxy = _JsProxy  # type: ignore[attr-defined]
    ffi.jsnull = object()  # type: ignore[attr-defined]
    ffi.create_proxy = lambda f: f  # type: ignore[attr-defined]
    ffi.to_js = lambda v, **_: v  # type: ignore[attr-defined]
    workers = types.ModuleType("workers")
    workers.fetch = None  # type: ignore[attr-defined]
    return {"js": js, "pyodide": pyodide, "pyodide.ffi": ffi, "workers": workers}


@pytest.fixture
def js_bindings() -> Iterator[Any]:
    saved = {name: sys.modules.get(name) for name in [*_stub_modules(), "js_bindings"]}
    sys.modules.update(_stub_modules())
    sys.modules.pop("js_bindings", None)
    try:
        import js_bindings

        yield js_bindings
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Chunk:
    def __init__(self, value: bytes | None) -> None:
        self.done = value is None
        self.value = value


class StallingReader:
    """Yields `chunks`, then never resolves another read (an upstream that stops mid-body)."""

    def __init__(self, chunks: list[bytes], *, end: bool = False) -> None:
        self.chunks = list(chunks)
        self.end = end
        self.cancelled = False

    async def read(self) -> _Chunk:
        if self.chunks:
            return _Chunk(self.chunks.pop(0))
        if self.end:
            return _Chunk(None)
        await asyncio.Event().wait()  # never set
        raise AssertionError("unreachable")

    def cancel(self) -> None:
        self.cancelled = True


class _Stream:
    def __init__(self, reader: StallingReader) -> None:
        self.reader = reader

    def getReader(self) -> StallingReader:  # noqa: N802 - the JS method name
        return self.reader


async def _collect(iterator: Any, into: list[bytes]) -> None:
    async for chunk in iterator:
        into.append(chunk)


def test_a_stalled_body_ends_with_upstream_error_and_aborts(js_bindings: Any) -> None:
    reader = StallingReader([b"data: one\n\n", b"data: two\n\n"])
    aborted: list[bool] = []
    received: list[bytes] = []
    chunks = js_bindings.stream_chunks(
        _Stream(reader), idle_timeout_s=0.05, on_stall=lambda: aborted.append(True)
    )
    with pytest.raises(UpstreamError, match="stalled: no data for 50 ms"):
        asyncio.run(_collect(chunks, received))
    assert received == [b"data: one\n\n", b"data: two\n\n"]  # what arrived before the stall is kept
    assert aborted == [True] and reader.cancelled


def test_a_body_that_keeps_flowing_or_ends_is_not_cut(js_bindings: Any) -> None:
    reader = StallingReader([b"a", b"b", b"c"], end=True)
    received: list[bytes] = []
    chunks = js_bindings.stream_chunks(_Stream(reader), idle_timeout_s=5.0, on_stall=pytest.fail)
    asyncio.run(_collect(chunks, received))
    assert received == [b"a", b"b", b"c"] and not reader.cancelled


def test_without_an_idle_timeout_reads_are_unbounded(js_bindings: Any) -> None:
    """No timeout given (e.g. an AI binding's stream): the read waits; the caller's own bound applies."""
    reader = StallingReader([b"x"])
    received: list[bytes] = []

    async def bounded() -> None:
        await asyncio.wait_for(_collect(js_bindings.stream_chunks(_Stream(reader)), received), 0.05)

    with pytest.raises(TimeoutError):
        asyncio.run(bounded())
    assert received == [b"x"]


def test_workers_fetcher_applies_its_timeout_to_each_body_read(
    js_bindings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers arrive in time, the body stalls: the stream fails after `timeout_ms` and the fetch is aborted."""
    aborted: list[bool] = []
    controller = types.SimpleNamespace(signal="signal", abort=lambda: aborted.append(True))
    js_response = types.SimpleNamespace(
        status=200, headers={"Content-Type": "text/event-stream"}, body=_Stream(StallingReader([b"hi"]))
    )
    sent: dict[str, Any] = {}

    async def fake_fetch(url: str, options: dict[str, Any]) -> Any:  # JS fetch(url, init)
        sent.update(options, url=url)
        return js_response

    monkeypatch.setattr(js_bindings.js, "fetch", fake_fetch, raising=False)
    monkeypatch.setattr(js_bindings.js, "AbortController", types.SimpleNamespace(new=lambda: controller))
    monkeypatch.setattr(js_bindings, "Object", types.SimpleNamespace(fromEntries=dict))

    async def call() -> tuple[Any, list[bytes]]:
        response = await js_bindings.WorkersFetcher()(
            "https://upstream.test/v1", method="POST", headers={"a": "b"}, body=b"{}", timeout_ms=40
        )
        received: list[bytes] = []
        with pytest.raises(UpstreamError, match="no data for 40 ms"):
            await _collect(response.body, received)
        return response, received

    response, received = asyncio.run(call())
    assert response.status == 200 and response.headers == {"content-type": "text/event-stream"}
    assert received == [b"hi"] and aborted == [True]
    assert sent["signal"] == "signal" and sent["url"] == "https://upstream.test/v1"
