"""Per-IP or per-key rate limits through the Workers rate-limit binding.

The binding counts per Cloudflare location and is eventually consistent (a guard against abuse,
not an accounting system); daily quotas are in `quotas.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

from ..bindings import RateLimiter
from .errors import ApiError
from .log import log_event


class RateLimitPolicy(NamedTuple):
    binding: str
    key: Literal["ip", "api_key"]
    retry_after_s: int


def limit_key(policy: RateLimitPolicy, key_id: str | None, ip_hash: str) -> str:
    """`key:<name>` when the policy keys by API key and the caller has one, else `ip:<hash>`."""
    if policy.key == "api_key" and key_id is not None:
        return f"gw:key:{key_id}"
    return f"gw:ip:{ip_hash}"


async def enforce_rate_limit(
    policy: RateLimitPolicy | None, limiters: Mapping[str, RateLimiter], key: str
) -> None:
    """Raise a 429 with retry-after when the binding says no. A missing/failing binding fails open."""
    if policy is None:
        return
    limiter = limiters.get(policy.binding)
    if limiter is None:
        log_event("v1", "rate_limit_binding_missing", binding=policy.binding)
        return
    try:
        allowed = await limiter.limit(key)
    except Exception as error:
        log_event("v1", "rate_limit_binding_failed", binding=policy.binding, error=type(error).__name__)
        return
    if not allowed:
        raise ApiError(
            429,
            "rate_limit",
            "rate limit exceeded; retry later",
            code="rate_limit_exceeded",
            retry_after_s=policy.retry_after_s,
        )
