"""Exact-match response cache in KV.

Key: sha256 over the client API, the tenant scope, the model alias and the request body without
fields that do not change the output (`stream`, `stream_options`, `user`, `metadata`, `store`,
`service_tier`), as canonical JSON. So no entry is ever shared across tenants or across APIs.
A stored entry holds the complete (non-streaming) response in the client's API shape; streaming
requests get it replayed as SSE.

Per-request headers (Cloudflare AI Gateway names, and our own equivalents; ours win if both):
- `cf-aig-skip-cache` / `x-edgestack-skip-cache: true` -> neither read nor write (BYPASS)
- `cf-aig-cache-ttl` / `x-edgestack-cache-ttl: <seconds>` -> TTL of the entry written (60 s .. 30 days)
- `cf-aig-cache-key` / `x-edgestack-cache-key: <key>` -> use this key instead of the body hash
  (still scoped to the tenant and alias)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from ..bindings import KvNamespace
from ..web.errors import Api, ApiError
from ..web.log import log_event
from .config import CachePolicy
from .translate import dumps

CacheStatus = Literal["HIT", "MISS", "BYPASS"]

KV_PREFIX = "gw:cache:v1:"
MIN_TTL_S = 60  # KV's minimum expiration_ttl
MAX_TTL_S = 30 * 86_400
NON_OUTPUT_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})
DEFAULT_TEMPERATURE = 1.0  # both APIs' default
TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no", "")


class CacheDecision(NamedTuple):
    status: CacheStatus  # MISS here means "look up, and store on success"
    key: str | None = None
    ttl_s: int = 0
    reason: str = ""


class CachedResponse(NamedTuple):
    api: Api
    provider: str
    model: str
    response: dict[str, Any]  # complete response in the client's API shape


def _header(headers: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        if name in headers:
            return name, headers[name].strip()
    return None


def _flag(headers: Mapping[str, str], *names: str) -> bool:
    found = _header(headers, *names)
    if found is None:
        return False
    name, value = found
    if value.lower() in TRUE_VALUES:
        return True
    if value.lower() in FALSE_VALUES:
        return False
    raise ApiError(400, "invalid_request", f"header {name} must be true or false, got {value!r}")


def _ttl(headers: Mapping[str, str], default: int) -> int:
    found = _header(headers, "x-edgestack-cache-ttl", "cf-aig-cache-ttl")
    if found is None:
        return default
    name, value = found
    if not value.isdigit() or not MIN_TTL_S <= int(value) <= MAX_TTL_S:
        raise ApiError(
            400,
            "invalid_request",
            f"header {name} must be a whole number of seconds from {MIN_TTL_S} to {MAX_TTL_S}",
        )
    return int(value)


def normalized_request(body: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in body.items() if k not in NON_OUTPUT_FIELDS and k != "model"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def cache_key(
    api: Api, scope: str, alias: str, body: Mapping[str, Any], custom_key: str | None = None
) -> str:
    if custom_key is not None:
        material = "\n".join(("custom", api, scope, alias, custom_key))
    else:
        material = "\n".join(("body", api, scope, alias, normalized_request(body)))
    return KV_PREFIX + hashlib.sha256(material.encode()).hexdigest()


def decide(
    policy: CachePolicy,
    has_kv: bool,
    api: Api,
    scope: str,
    alias: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
) -> CacheDecision:
    """Whether this request reads/writes the cache. Header errors raise a 400 even when bypassing."""
    skip = _flag(headers, "x-edgestack-skip-cache", "cf-aig-skip-cache")
    ttl = _ttl(headers, policy.ttl_s)
    if not policy.enabled or not has_kv:
        return CacheDecision("BYPASS", reason="cache off for this route")
    if skip:
        return CacheDecision("BYPASS", reason="skip-cache header")
    temperature = body.get("temperature", DEFAULT_TEMPERATURE)
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE
    if policy.max_temperature is not None and float(temperature) > policy.max_temperature:
        return CacheDecision("BYPASS", reason="temperature above the route's max_temperature")
    custom = _header(headers, "x-edgestack-cache-key", "cf-aig-cache-key")
    return CacheDecision(
        "MISS", key=cache_key(api, scope, alias, body, custom[1] if custom else None), ttl_s=ttl
    )


async def lookup(kv: KvNamespace, key: str, api: Api) -> CachedResponse | None:
    try:
        raw = await kv.get(key)
    except Exception as error:
        log_event("gateway", "cache_read_failed", error=type(error).__name__)
        return None
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
        if entry.get("api") != api or not isinstance(entry.get("response"), dict):
            return None
        return CachedResponse(
            api=api,
            provider=str(entry.get("provider", "")),
            model=str(entry.get("model", "")),
            response=entry["response"],
        )
    except (ValueError, AttributeError):
        log_event("gateway", "cache_entry_corrupt")
        return None


async def store(kv: KvNamespace, key: str, ttl_s: int, entry: CachedResponse) -> None:
    payload = dumps(
        {
            "v": 1,
            "api": entry.api,
            "provider": entry.provider,
            "model": entry.model,
            "response": entry.response,
        }
    )
    try:
        await kv.put(key, payload, expiration_ttl=max(MIN_TTL_S, ttl_s))
    except Exception as error:
        log_event("gateway", "cache_write_failed", error=type(error).__name__)
