"""`edgestack dev --map-host HOST=http://127.0.0.1:PORT`: in the local runtime only, the Worker's
outbound fetches to `https://HOST/...` go to a loopback server (runtime/lib/host-map.mjs). It is a
CLI flag, never a stack-file field, so it cannot reach a deploy: the Worker and its SSRF guard still
see `HOST`, which lets tests and users run a local MCP server (or any `http_get` target) behind an
allow-listed name."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from infra.errors import EdgestackError

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class MapHostError(EdgestackError, ValueError):
    """A bad `--map-host` value (one line)."""


def parse_map_host(text: str) -> tuple[str, str]:
    """`HOST=http://127.0.0.1:PORT` -> (host, target); MapHostError says what is wrong."""
    host, sep, target = text.partition("=")
    host = host.strip().lower().rstrip(".")
    if not sep:
        raise MapHostError(f"expected HOST=http://127.0.0.1:PORT, got {text!r}")
    if not _HOST.match(host):
        raise MapHostError(f"{host!r} is not a DNS host name (the name the Worker fetches over https)")
    parts = urlsplit(target.strip())
    netloc_host = parts.netloc.rpartition(":")[0]
    if (
        parts.scheme != "http"
        or netloc_host not in LOOPBACK_HOSTS
        or parts.port is None
        or parts.path not in ("", "/")
        or parts.query
    ):
        raise MapHostError(f"the target of {host} must be http://127.0.0.1:PORT (a loopback server), got {target!r}")
    return host, f"http://{netloc_host}:{parts.port}"


def parse_map_hosts(values: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        host, target = parse_map_host(value)
        if host in mapping and mapping[host] != target:
            raise MapHostError(f"{host} is mapped twice ({mapping[host]} and {target})")
        mapping[host] = target
    return mapping
