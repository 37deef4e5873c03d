"""`Fetcher` over httpx (CPython stand-in for `workers.fetch`): streams bodies, maps transport
failures to `UpstreamError`.

`timeout_ms` bounds connecting and each wait for data (so a stalled upstream times out, while a
long healthy stream does not).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx
from app.bindings import UpstreamError, UpstreamResponse


class HttpxFetcher:
    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self.calls = 0

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # created lazily inside the serving event loop
            self._client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=512, max_keepalive_connections=128)
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def __call__(
        self, url: str, *, method: str, headers: Mapping[str, str], body: bytes | None, timeout_ms: int
    ) -> UpstreamResponse:
        self.calls += 1
        seconds = timeout_ms / 1000
        request = self.client.build_request(
            method, url, headers=dict(headers), content=body, timeout=httpx.Timeout(seconds, connect=seconds)
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise UpstreamError(
                f"timed out after {timeout_ms} ms connecting to {request.url.host}: {type(error).__name__}"
            ) from None
        except httpx.TransportError as error:
            raise UpstreamError(
                f"connection to {request.url.host} failed: {type(error).__name__}: {error}"
            ) from None
        return UpstreamResponse(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=_body(response, timeout_ms),
        )


async def _body(response: httpx.Response, timeout_ms: int) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            if chunk:
                yield chunk
    except httpx.TimeoutException:
        raise UpstreamError(f"timed out after {timeout_ms} ms waiting for response data") from None
    except httpx.TransportError as error:
        raise UpstreamError(f"connection lost while reading: {type(error).__name__}: {error}") from None
    finally:
        await response.aclose()
