"""Adapters from Cloudflare's JS bindings (as Pyodide sees them) to the protocols in `app.bindings`.

Only this module and `entry.py` touch `js` / `pyodide`; the core in `app/` stays plain Python.
Conversions follow the Python Workers rules: JS `null` arrives as `jsnull` (turned into `None`
here), Python `None` must be sent as `jsnull` where JS expects `null` (D1 parameters), and dicts are
sent as plain JS objects (`dict_converter=Object.fromEntries`), never as `Map`s.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

import js
from app.bindings import R2ObjectInfo, UpstreamError, UpstreamResponse, Vector, VectorMatch, VectorQuery
from app.config import ParsedOnce
from js import Object
from pyodide.ffi import JsException, JsProxy, create_proxy, jsnull, to_js

LOCAL_BACKENDS_BINDING = "EDGESTACK_LOCAL_BACKENDS"


# --- conversions ---------------------------------------------------------------------------------


def env_key(env: Any) -> int:
    """Identity of the JS object behind `env` (the same for every request of an isolate)."""
    return int(raw(env).js_id)


def raw(binding: Any) -> Any:
    """The JS object behind a workers-SDK wrapper (`_BindingWrapper` / `_EnvWrapper`), or itself."""
    for attribute in ("_binding", "_env"):
        inner = getattr(binding, attribute, None) if not isinstance(binding, JsProxy) else None
        if inner is not None:
            return inner
    return binding


def js_object(value: Any) -> Any:
    """`value` as JS: dicts as plain objects (not Maps), lists as arrays, `None` as `null`."""
    return to_js(_nulls(value), dict_converter=Object.fromEntries)


def _nulls(value: Any) -> Any:
    if value is None:
        return jsnull
    if isinstance(value, Mapping):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nulls(v) for v in value]
    return value


def py(value: Any) -> Any:
    """A JS value as plain Python: objects/arrays to dicts/lists, `null` to None, buffers to bytes."""
    if isinstance(value, JsProxy):
        if value is jsnull:
            return None
        if hasattr(value, "byteLength") and not hasattr(value, "length"):  # ArrayBuffer
            return bytes(value.to_bytes())
        value = value.to_py()
    if value is jsnull:
        return None
    if isinstance(value, dict):
        return {k: py(v) for k, v in value.items()}
    if isinstance(value, list):
        return [py(v) for v in value]
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


def header_dict(js_headers: Any) -> dict[str, str]:
    """A JS `Headers` as a dict with lower-cased names (repeated headers joined by `, `)."""
    return {str(k).lower(): str(v) for k, v in py(Object.fromEntries(js_headers)).items()}


def _is_missing(value: Any) -> bool:
    return value is None or value is jsnull


def _d1_param(value: Any) -> Any:
    if value is None:
        return jsnull
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytes | bytearray):
        return to_js(bytes(value))
    return value


# --- storage -------------------------------------------------------------------------------------


class KvAdapter:
    def __init__(self, binding: Any) -> None:
        self._kv = raw(binding)

    async def get(self, key: str) -> str | None:
        value = await self._kv.get(key)
        return None if _is_missing(value) else str(value)

    async def put(self, key: str, value: str, expiration_ttl: int | None = None) -> None:
        if expiration_ttl is None:
            await self._kv.put(key, value)
        else:
            await self._kv.put(key, value, js_object({"expirationTtl": expiration_ttl}))

    async def delete(self, key: str) -> None:
        await self._kv.delete(key)


class D1Adapter:
    def __init__(self, binding: Any) -> None:
        self._db = raw(binding)

    def _statement(self, sql: str, params: Sequence[Any]) -> Any:
        statement = self._db.prepare(sql)
        return statement.bind(*[_d1_param(p) for p in params]) if params else statement

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        result = await self._statement(sql, params).all()
        return py(result.results) or []

    async def batch(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        prepared = [self._statement(sql, params) for sql, params in statements]
        await self._db.batch(to_js(prepared))


class R2Adapter:
    def __init__(self, binding: Any) -> None:
        self._bucket = raw(binding)

    async def delete(self, key: str) -> None:
        await self._bucket.delete(key)

    async def put_object(
        self, key: str, data: bytes, content_type: str, custom_metadata: Mapping[str, str]
    ) -> None:
        options = {"httpMetadata": {"contentType": content_type}, "customMetadata": dict(custom_metadata)}
        await self._bucket.put(key, to_js(bytes(data)), js_object(options))

    async def get_object(self, key: str) -> tuple[bytes, R2ObjectInfo] | None:
        obj = await self._bucket.get(key)
        if _is_missing(obj):
            return None
        return bytes((await obj.arrayBuffer()).to_bytes()), _r2_info(obj)

    async def head(self, key: str) -> R2ObjectInfo | None:
        obj = await self._bucket.head(key)
        return None if _is_missing(obj) else _r2_info(obj)


def _r2_info(obj: Any) -> R2ObjectInfo:
    http = py(obj.httpMetadata) or {}
    custom = py(obj.customMetadata) or {}
    return R2ObjectInfo(
        key=str(obj.key),
        size=int(obj.size),
        content_type=str(http.get("contentType") or "application/octet-stream"),
        custom_metadata={str(k): str(v) for k, v in custom.items()},
    )


class QueueAdapter:
    def __init__(self, binding: Any) -> None:
        self._queue = raw(binding)

    async def send(self, body: Mapping[str, Any]) -> None:
        await self._queue.send(js_object(body))


class VectorizeAdapter:
    def __init__(self, binding: Any) -> None:
        self._index = raw(binding)

    async def upsert(self, vectors: Sequence[Vector]) -> int:
        payload = []
        for vector in vectors:
            item: dict[str, Any] = {
                "id": vector.id,
                "values": list(vector.values),
                "metadata": dict(vector.metadata),
            }
            if vector.namespace is not None:
                item["namespace"] = vector.namespace
            payload.append(item)
        await self._index.upsert(js_object(payload))
        return len(payload)

    async def query(self, vector: Sequence[float], options: VectorQuery) -> list[VectorMatch]:
        js_options: dict[str, Any] = {
            "topK": options.top_k,
            "returnValues": options.return_values,
            "returnMetadata": options.return_metadata,
        }
        if options.namespace is not None:
            js_options["namespace"] = options.namespace
        if options.filter:
            js_options["filter"] = dict(options.filter)
        result = py(await self._index.query(to_js(list(vector)), js_object(js_options)))
        return [
            VectorMatch(
                id=m["id"], score=float(m["score"]), values=m.get("values"), metadata=m.get("metadata")
            )
            for m in result.get("matches", [])
        ]

    async def get_by_ids(self, ids: Sequence[str]) -> list[Vector]:
        found = py(await self._index.getByIds(to_js(list(ids)))) or []
        return [
            Vector(
                id=v["id"],
                values=list(v.get("values") or []),
                metadata=v.get("metadata") or {},
                namespace=v.get("namespace"),
            )
            for v in found
        ]

    async def delete_by_ids(self, ids: Sequence[str]) -> int:
        await self._index.deleteByIds(to_js(list(ids)))
        return len(ids)


class WorkersAiAdapter:
    def __init__(self, binding: Any) -> None:
        self._ai = raw(binding)

    async def run(self, model: str, inputs: Mapping[str, Any]) -> Any:
        result = await self._ai.run(model, js_object(inputs))
        if isinstance(result, JsProxy) and hasattr(result, "getReader"):
            return stream_chunks(result)
        return py(result)

    async def to_markdown(self, name: str, data: bytes, content_type: str) -> Any:
        """`env.AI.toMarkdown([{name, blob}])`'s one ConversionResult, as a dict."""
        blob = js.Blob.new(js.Array.of(to_js(bytes(data))), js_object({"type": content_type}))
        results = py(await self._ai.toMarkdown(js.Array.of(js_object({"name": name, "blob": blob}))))
        return results[0] if isinstance(results, list) and results else results


class RateLimiterAdapter:
    def __init__(self, binding: Any) -> None:
        self._limiter = raw(binding)

    async def limit(self, key: str) -> bool:
        outcome = await self._limiter.limit(js_object({"key": key}))
        return bool(outcome.success)


# --- lazy binding maps -----------------------------------------------------------------------


class BindingMap(Mapping[str, Any]):
    """`services.kv["CACHE"]` etc.: the declared bindings of one kind (`EDGESTACK_CONFIG.bindings`),
    adapted on first use. A declared name the env lacks is not in the map."""

    def __init__(self, env: Any, adapter: Callable[[Any], Any], names: Sequence[str]) -> None:
        self._env = raw(env)
        self._adapter = adapter
        self._names = tuple(names)
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            value = getattr(self._env, name, None) if name in self._names else None
            if _is_missing(value):
                raise KeyError(name)
            self._cache[name] = self._adapter(value)
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names if not _is_missing(getattr(self._env, name, None)))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _text_value(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a text binding")
    return value


def text_bindings(env: Any, names: Sequence[str]) -> BindingMap:
    """Secrets and plain-text vars, by declared name, as strings."""
    return BindingMap(env, _text_value, names)


def queue_messages(batch: Any) -> list[tuple[Any, int, Callable[[], None], Callable[[], None]]]:
    """A delivered MessageBatch as (body as plain Python, attempts, ack, retry) per message."""
    out = []
    for message in raw(batch).messages:
        out.append((py(message.body), int(message.attempts), message.ack, message.retry))
    return out


def ai_binding(env: Any, name: str | None) -> WorkersAiAdapter | None:
    """The declared Workers AI binding (`bindings.ai`, any name), adapted; None when there is none."""
    value = getattr(raw(env), name, None) if name else None
    return None if _is_missing(value) else WorkersAiAdapter(value)


def _parse_backends(text: str | None) -> dict[str, str]:
    parsed = json.loads(text) if text else {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


_backends_once = ParsedOnce(_parse_backends)


def local_backends(env: Any) -> Mapping[str, str]:
    """What the local runtime serves each binding kind with (empty on Cloudflare); parsed once."""
    value = getattr(raw(env), LOCAL_BACKENDS_BINDING, None)
    return _backends_once(value if isinstance(value, str) else None)


# --- outbound HTTP, time, background work --------------------------------------------------------


async def stream_chunks(
    stream: Any, *, idle_timeout_s: float | None = None, on_stall: Callable[[], object] | None = None
) -> AsyncIterator[bytes]:
    """A JS ReadableStream as an async iterator of bytes; a failed read raises UpstreamError, and so
    does a read that brings nothing for `idle_timeout_s` (then `on_stall()` runs, e.g. an abort)."""
    if _is_missing(stream):
        return
    reader = stream.getReader()
    finished = False
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(), idle_timeout_s)
            except TimeoutError:
                if on_stall is not None:
                    on_stall()
                stalled_ms = (idle_timeout_s or 0) * 1000
                raise UpstreamError(f"upstream stream stalled: no data for {stalled_ms:.0f} ms") from None
            except JsException as exc:
                raise UpstreamError(f"upstream stream failed: {exc}") from None
            if chunk.done:
                finished = True
                return
            value = chunk.value
            yield bytes(value.to_bytes()) if isinstance(value, JsProxy) else bytes(value)
    finally:
        if not finished:
            reader.cancel()


class WorkersFetcher:
    """`app.bindings.Fetcher` over `workers.fetch`; a connect failure or timeout is UpstreamError.

    `redirect="manual"` returns 3xx responses as they are (agent tools check every hop themselves).

    `timeout_ms` bounds the wait for the response headers and then each read of the body: an
    upstream that stops sending mid-body ends the stream with UpstreamError (and the fetch is
    aborted) instead of holding the request open.
    """

    def __init__(self, redirect: str = "follow") -> None:
        self.redirect = redirect

    async def __call__(
        self, url: str, *, method: str, headers: Mapping[str, str], body: bytes | None, timeout_ms: int
    ) -> UpstreamResponse:
        controller = js.AbortController.new()
        options: dict[str, Any] = {"method": method, "headers": dict(headers), "signal": controller.signal}
        if self.redirect != "follow":
            options["redirect"] = self.redirect
        if body is not None:
            options["body"] = bytes(body)
        try:
            # The JS fetch itself: the SDK's wrapper (pyodide's pyfetch) built two Python response
            # objects per call around the JS Response this reads anyway (bench/worker_cpu.py).
            js_response = await asyncio.wait_for(js.fetch(url, js_object(options)), timeout_ms / 1000)
        except TimeoutError:
            controller.abort()
            raise UpstreamError(f"{method} {url}: no response within {timeout_ms} ms") from None
        except (JsException, OSError) as exc:
            raise UpstreamError(f"{method} {url}: {exc}") from None
        chunks = stream_chunks(js_response.body, idle_timeout_s=timeout_ms / 1000, on_stall=controller.abort)
        headers = header_dict(js_response.headers)
        return UpstreamResponse(status=int(js_response.status), headers=headers, body=chunks)


def wait_until(ctx: Any) -> Any:
    """`services.wait_until`: starts the work now and keeps the invocation alive until it is done."""

    def schedule(work: Awaitable[Any]) -> None:
        ctx.waitUntil(asyncio.ensure_future(work))

    return schedule


def clock() -> float:
    return time.time()


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


# --- responses -----------------------------------------------------------------------------------


def readable_stream(chunks: AsyncIterator[bytes]) -> Any:
    """A JS ReadableStream pulling from a Python async iterator (for streamed responses)."""
    iterator = chunks.__aiter__()
    proxies: list[Any] = []

    def release() -> None:
        for proxy in proxies:
            proxy.destroy()
        proxies.clear()

    async def pull(controller: Any) -> None:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            controller.close()
            release()
            return
        except BaseException as exc:
            controller.error(js.Error.new(f"{type(exc).__name__}: {exc}"))
            release()
            raise
        controller.enqueue(to_js(bytes(chunk)))

    async def cancel(reason: Any) -> None:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
        release()

    proxies.extend([create_proxy(pull), create_proxy(cancel)])
    return js.ReadableStream.new(js_object({"pull": proxies[0], "cancel": proxies[1], "highWaterMark": 0}))


# --- requests, responses, Durable Objects ------------------------------------------------------

NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})


async def http_request_parts(request: Any) -> tuple[str, str, dict[str, str], bytes]:
    """(method, url, headers, body) of a `workers.Request` (or a JS Request)."""
    js_request = getattr(request, "js_object", request)
    method = str(js_request.method)
    body = b"" if method in ("GET", "HEAD") else bytes((await js_request.arrayBuffer()).to_bytes())
    return method, str(js_request.url), header_dict(js_request.headers), body


def js_response(
    status: int, headers: Mapping[str, str], body: bytes, stream: AsyncIterator[bytes] | None
) -> Any:
    """The handler's JS `Response`, built directly: the SDK's Python `Response` wrapper converted
    body and headers through several layers on every request (bench/worker_cpu.py)."""
    payload = response_body(status, body, stream)
    init = js_object({"status": status, "headers": dict(headers)})
    return js.Response.new(to_js(payload) if isinstance(payload, bytes) else payload, init)


def response_body(status: int, body: bytes, stream: AsyncIterator[bytes] | None) -> Any:
    """What to hand `workers.Response` as the body: a JS ReadableStream when streaming."""
    if status in NULL_BODY_STATUSES:
        return None
    if stream is not None:
        return readable_stream(stream)
    return bytes(body)


class DurableObjectClient:
    """Requests to the Durable Object named `name` in a namespace binding (`idFromName` + `get`)."""

    def __init__(self, namespace: Any) -> None:
        self._namespace = raw(namespace)

    async def fetch(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, bytes]:
        stub = self._namespace.get(self._namespace.idFromName(name))
        init: dict[str, Any] = {"method": method}
        if body is not None:
            init["body"] = to_js(bytes(body))
        response = await stub.fetch(f"https://durable-object.internal{path}", js_object(init))
        return int(response.status), bytes((await response.arrayBuffer()).to_bytes())

    async def fetch_stream(
        self, name: str, path: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, dict[str, str], AsyncIterator[bytes]]:
        stub = self._namespace.get(self._namespace.idFromName(name))
        init: dict[str, Any] = {"method": method}
        if body is not None:
            init["body"] = to_js(bytes(body))
        response = await stub.fetch(f"https://durable-object.internal{path}", js_object(init))
        return int(response.status), header_dict(response.headers), stream_chunks(response.body)


class ObjectStorage:
    """A Durable Object's `ctx.storage`: the key-value API and `sql.exec`, as plain Python."""

    def __init__(self, storage: Any) -> None:
        self._storage = raw(storage)

    async def get(self, key: str) -> Any:
        value = await self._storage.get(key)
        return py(value)

    async def put(self, key: str, value: Any) -> None:
        await self._storage.put(key, js_object(value))

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        cursor = self._storage.sql.exec(query, *[_d1_param(p) for p in params])
        return py(cursor.toArray()) or []

    def transaction(self, work: Callable[[], Any]) -> Any:
        """`transactionSync(work)`: the `sql` calls inside commit together or not at all."""
        proxy = create_proxy(work)
        try:
            return self._storage.transactionSync(proxy)
        finally:
            proxy.destroy()

    async def get_alarm(self) -> float | None:
        value = await self._storage.getAlarm()
        return None if _is_missing(value) else float(value)

    async def set_alarm(self, at_ms: float) -> None:
        await self._storage.setAlarm(int(at_ms))

    async def delete_alarm(self) -> None:
        await self._storage.deleteAlarm()

    async def delete_all(self) -> None:
        await self._storage.deleteAll()


# Binding kind (`EDGESTACK_CONFIG.bindings`) -> the adapter of its JS object.
ADAPTERS: dict[str, Callable[[Any], Any]] = {
    "kv": KvAdapter,
    "d1": D1Adapter,
    "r2": R2Adapter,
    "vectorize": VectorizeAdapter,
    "queue": QueueAdapter,
    "rate_limit": RateLimiterAdapter,
    "durable_object": DurableObjectClient,
}


def bindings_of(env: Any, kind: str, names: Sequence[str]) -> BindingMap:
    """The declared bindings of `kind` (one of ADAPTERS) in `env`."""
    return BindingMap(env, ADAPTERS[kind], names)
