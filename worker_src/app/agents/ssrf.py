"""The SSRF guard of the `http_get` and `mcp` tools: which URLs a model may make the Worker fetch, and a GET
that re-checks every redirect hop.

Rules (OWASP SSRF prevention cheat sheet; cloudflare-facts.md "SSRF"):
- `https` only, default port; no userinfo; no backslashes, whitespace or control characters;
- the host must be on the tool's `allow_hosts` (exact, or `*.example.com` for subdomains);
- IP literals are refused unless `ipaddress` classes them as global, in every spelling the WHATWG
  URL parser (which `fetch` uses) accepts: dotted, decimal (`2130706433`), octal (`0177.1`), hex
  (`0x7f.1`), short forms, percent-encoded, and IPv6 (IPv4-mapped, NAT64 `64:ff9b::/96` and
  `64:ff9b:1::/48`, 6to4 and Teredo are judged by the IPv4 address they carry);
- names `localhost`, `*.localhost`, `*.local`, `*.internal`, `*.home.arpa`, `*.workers.dev` and
  the stack's own hosts (zones, custom domains, route hosts) are refused, so a tool cannot reach
  this Worker's own routes;
- non-ASCII hosts are refused (write punycode in `allow_hosts`).
DNS is not resolved here (Workers cannot): a public name that resolves to a private address is
stopped by Cloudflare's egress on the platform, not by this guard (docs/agents.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import NamedTuple
from urllib.parse import unquote, urljoin, urlsplit

from ..bindings import Fetcher, UpstreamError, UpstreamResponse, close_stream

BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".workers.dev")
BLOCKED_NAMES = frozenset({"localhost", "workers.dev", "home.arpa"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedUrl(ValueError):
    """The URL may not be fetched; the message says why."""


class Target(NamedTuple):
    url: str  # rebuilt from the checked parts
    host: str


# ---------------------------------------------------------------- IP literals


def _ipv4_number(part: str) -> int | None:
    """One part of a WHATWG IPv4 host: decimal, `0x` hex or leading-zero octal; None if not numeric."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0
    try:
        return int(digits, base)
    except ValueError:
        return None


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]
    last = parts[-1]
    if last and all(c.isdigit() for c in last):
        return True
    return last[:2] in ("0x", "0X") and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """The WHATWG URL parser's IPv4 reading of `host` (which must end in a number); BlockedUrl if invalid."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]
    if len(parts) > 4 or any(p == "" for p in parts):
        raise BlockedUrl(f"host {host!r} is not a valid IPv4 address")
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        raise BlockedUrl(f"host {host!r} is not a valid IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise BlockedUrl(f"host {host!r} is not a valid IPv4 address")
    address = values[-1]
    for index, value in enumerate(values[:-1]):
        address += value * 256 ** (3 - index)
    return ipaddress.IPv4Address(address)


def ip_literal(host: str) -> IpAddress | None:
    """The address when `host` (lower-case, percent-decoded) is an IP literal in any spelling."""
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise BlockedUrl(f"host {host!r} is not a valid IPv6 address") from None
    if _ends_in_number(host):
        return parse_ipv4(host)
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo)."""
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    compat = int(ip)
    if compat >> 32 == 0 and compat > 1:  # deprecated IPv4-compatible ::a.b.c.d
        found.append(ipaddress.IPv4Address(compat))
    return found


def ip_is_public(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False  # local-use NAT64: the embedded address sits at a prefix-dependent position
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(e.is_global for e in embedded)
    return ip.is_global


# ---------------------------------------------------------------- names


def host_matches(host: str, pattern: str) -> bool:
    """`pattern` is a host name, or `*.example.com` for any subdomain of example.com (not itself)."""
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def blocked_name(host: str, own_hosts: Sequence[str]) -> str | None:
    """Why the host name is refused, or None."""
    if host in BLOCKED_NAMES or host.endswith(BLOCKED_SUFFIXES):
        return f"host {host!r} is a local or internal name"
    for own in own_hosts:
        own = own.lower().rstrip(".")
        if own and (host == own or host.endswith("." + own)):
            return f"host {host!r} belongs to this stack ({own})"
    return None


def check_host(raw_host: str, own_hosts: Sequence[str]) -> str:
    """The normalised host, or BlockedUrl. Used for URLs and for `allow_hosts` entries."""
    if any(ord(c) > 127 for c in raw_host):
        raise BlockedUrl(f"host {raw_host!r} is not ASCII (use its punycode form)")
    host = unquote(raw_host).lower()
    if any(ord(c) > 127 or c in "%\\@/" for c in host):
        raise BlockedUrl(f"host {raw_host!r} is not a valid host name")
    if host.endswith(".") and not host.startswith("["):
        host = host[:-1]
    if not host:
        raise BlockedUrl("the URL has no host")
    address = ip_literal(host)
    if address is not None:
        if not ip_is_public(address):
            raise BlockedUrl(f"host {raw_host!r} is a non-public IP address ({address})")
        return host
    if not set(host) <= _HOST_CHARS or ".." in host or host.startswith(("-", ".")):
        raise BlockedUrl(f"host {raw_host!r} is not a valid host name")
    reason = blocked_name(host, own_hosts)
    if reason:
        raise BlockedUrl(reason)
    return host


def url_host(url: str) -> str:
    """The host part of an absolute URL as written (for a guard that allows exactly that host)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return ""
    netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1]
    return netloc.partition(":")[0].lower().rstrip(".")


def check_url(url: str, allow_hosts: Sequence[str], own_hosts: Sequence[str]) -> Target:
    """The URL rebuilt from checked parts, or BlockedUrl saying why it is refused."""
    if any(c in url for c in "\\\t\r\n ") or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise BlockedUrl("the URL contains a backslash, whitespace or a control character")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise BlockedUrl(f"the URL is not valid: {error}") from None
    if parts.scheme.lower() != "https":
        raise BlockedUrl(f"only https URLs are allowed (got {parts.scheme or 'no scheme'!r})")
    netloc = parts.netloc
    if "@" in netloc:
        raise BlockedUrl("URLs with user info (user:password@) are not allowed")
    host_part, port = netloc, ""
    if netloc.startswith("["):
        end = netloc.find("]")
        host_part, rest = netloc[: end + 1], netloc[end + 1 :]
        port = rest[1:] if rest.startswith(":") else rest
    elif ":" in netloc:
        host_part, port = netloc.rsplit(":", 1)
    if port not in ("", "443"):
        raise BlockedUrl(f"only the default https port is allowed (got {port!r})")
    host = check_host(host_part, own_hosts)
    if not any(host_matches(host, pattern) for pattern in allow_hosts):
        raise BlockedUrl(f"host {host!r} is not on this tool's allow_hosts")
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return Target(url=f"https://{host}{path}{query}", host=host)


# ---------------------------------------------------------------- the guarded GET


class FetchPolicy(NamedTuple):
    allow_hosts: tuple[str, ...]
    own_hosts: tuple[str, ...]
    max_bytes: int
    content_types: tuple[str, ...]  # allowed media types; `text/*` style prefixes allowed
    headers: Mapping[str, str]  # set by the tool's admin (static and secret ones), never by the model
    timeout_ms: int


class FetchResult(NamedTuple):
    status: int
    url: str
    content_type: str
    text: str
    truncated: bool
    redirects: int


def _content_type_allowed(media_type: str, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if entry.endswith("/*") and media_type.startswith(entry[:-1]):
            return True
        if media_type == entry:
            return True
    return False


async def guarded_fetch(
    fetch: Fetcher, url: str, policy: FetchPolicy, method: str = "GET", body: bytes | None = None
) -> tuple[UpstreamResponse, Target, int]:
    """Send the request without following redirects itself: every `Location` is checked like the
    first URL (at most MAX_REDIRECTS hops); every tool-set header is dropped once the host changes.
    A request with a body follows only 307/308 (which keep the method and body). Returns the final
    response (body unread), its checked target and the number of redirects. Raises BlockedUrl or
    UpstreamError."""
    target = check_url(url, policy.allow_hosts, policy.own_hosts)
    headers = {k.lower(): v for k, v in policy.headers.items()}
    first_host = target.host
    redirects = 0
    while True:
        response = await fetch(
            target.url, method=method, headers=headers, body=body, timeout_ms=policy.timeout_ms
        )
        if response.status not in REDIRECT_STATUSES:
            return response, target, redirects
        await close_stream(response.body)
        location = response.headers.get("location")
        if not location:
            raise UpstreamError(f"redirect {response.status} without a Location header")
        if body is not None and response.status not in (307, 308):
            raise UpstreamError(f"redirect {response.status} would turn this {method} into a GET")
        redirects += 1
        if redirects > MAX_REDIRECTS:
            raise BlockedUrl(f"more than {MAX_REDIRECTS} redirects")
        target = check_url(urljoin(target.url, location), policy.allow_hosts, policy.own_hosts)
        if target.host != first_host:  # none of the tool's headers was meant for another host
            headers = {}


async def read_limited(body: AsyncIterator[bytes], max_bytes: int) -> tuple[bytes, bool]:
    """Up to `max_bytes` of a response body (the rest is not downloaded); (data, truncated)."""
    chunks: list[bytes] = []
    size, truncated = 0, False
    async for chunk in body:
        room = max_bytes - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            truncated = True
            break
        chunks.append(chunk)
        size += len(chunk)
    await close_stream(body)
    return b"".join(chunks), truncated


async def guarded_get(fetch: Fetcher, url: str, policy: FetchPolicy) -> FetchResult:
    """GET `url` through `guarded_fetch`; the body is read up to `max_bytes` and must have one of the
    policy's content types. Raises BlockedUrl or UpstreamError."""
    response, target, redirects = await guarded_fetch(fetch, url, policy)
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not _content_type_allowed(media_type, policy.content_types):
        await close_stream(response.body)
        raise BlockedUrl(f"content type {media_type or 'none'!r} is not allowed for this tool")
    data, truncated = await read_limited(response.body, policy.max_bytes)
    text = data.decode("utf-8", "replace")
    return FetchResult(response.status, target.url, media_type, text, truncated, redirects)
