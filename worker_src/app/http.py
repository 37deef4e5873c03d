"""Runtime-neutral HTTP request/response values passed between entry.py and the core."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    client_ip: str = ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # When set, the response is streamed chunk by chunk instead of `body`.
    stream: AsyncIterator[bytes] | None = None

    @classmethod
    def json(cls, payload: object, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
        merged = {"content-type": "application/json"}
        merged.update(headers or {})
        return cls(status=status, headers=merged, body=json.dumps(payload, separators=(",", ":")).encode())
