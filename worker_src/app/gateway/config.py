"""The gateway's view of its stack config: immutable records (NamedTuples), parsed once per isolate.

NamedTuples rather than frozen dataclasses: they are typed and immutable too, and an order of
magnitude cheaper to define, which matters because Workers import (and compile) this at cold start.

The input is the stack's `gateway` section as the planner ships it inside `EDGESTACK_CONFIG`
(`GatewaySpec`'s full dump, every key present). The stack loader already validated it; this parser
has no defaults, refuses a missing or unknown key, re-checks what the Worker relies on and the
references inside the section, and names the key path of anything wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from ..config import ConfigError, Reader, SectionCache
from ..web.auth import VirtualKey
from ..web.ratelimit import RateLimitPolicy

ProviderKind = Literal["openai", "anthropic", "workers-ai", "openai-compatible"]
Strategy = Literal["cheapest", "fastest", "fallback", "weighted"]
Backoff = Literal["constant", "linear", "exponential"]

PROVIDER_KINDS: tuple[str, ...] = ("openai", "anthropic", "workers-ai", "openai-compatible")
STRATEGIES: tuple[str, ...] = ("cheapest", "fastest", "fallback", "weighted")
BACKOFFS: tuple[str, ...] = ("constant", "linear", "exponential")

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


GatewayConfigError = ConfigError  # the gateway section (or the config's root) is unusable

class Price(NamedTuple):
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


class Provider(NamedTuple):
    name: str
    kind: ProviderKind
    base_url: str | None
    api_key_secret: str | None
    timeout_ms: int
    prices: Mapping[str, Price]
    default_max_tokens: int = 4096

    @property
    def api(self) -> Literal["openai", "anthropic"]:
        """The wire format this provider speaks (Workers AI is adapted to OpenAI's)."""
        return "anthropic" if self.kind == "anthropic" else "openai"


class Candidate(NamedTuple):
    provider: str
    model: str
    weight: int = 1

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


class RetryPolicy(NamedTuple):
    max_attempts: int = 3
    backoff: Backoff = "exponential"
    base_delay_ms: int = 100
    max_total_ms: int = 20_000

    def delay_ms(self, retry_number: int) -> float:
        """Backoff before the `retry_number`-th retry of one candidate (1-based)."""
        n = max(1, retry_number)
        if self.backoff == "constant":
            return float(self.base_delay_ms)
        if self.backoff == "linear":
            return float(self.base_delay_ms * n)
        return float(self.base_delay_ms * (2 ** (n - 1)))


class BreakerPolicy(NamedTuple):
    failure_threshold: int = 5
    cooldown_s: int = 30


class CachePolicy(NamedTuple):
    enabled: bool = False
    ttl_s: int = 3600
    max_temperature: float | None = None


class Route(NamedTuple):
    alias: str
    strategy: Strategy
    candidates: tuple[Candidate, ...]
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    cache: CachePolicy = CachePolicy()


class GatewayConfig(NamedTuple):
    enabled: bool
    public: bool
    providers: Mapping[str, Provider]
    routes: Mapping[str, Route]
    keys_by_hash: Mapping[str, VirtualKey]
    rate_limit: RateLimitPolicy | None = None
    cache_binding: str | None = None
    usage_binding: str | None = None
    log_bodies: bool = False
    max_body_bytes: int = 1_048_576
    ip_hash_salt_secret: str | None = None


PROVIDER_KEYS = ("kind", "base_url", "api_key_secret", "timeout_ms", "prices", "default_max_tokens")
PRICE_KEYS = ("input", "output", "cached_input")
ROUTE_KEYS = ("strategy", "candidates", "retry", "circuit_breaker", "cache")
CANDIDATE_KEYS = ("provider", "model", "weight")
KEY_KEYS = (
    "sha256", "scope", "allowed_models", "requests_per_day", "tokens_per_day", "admin", "operator", "approve", "documents",
)  # fmt: skip
RATE_LIMIT_KEYS = ("binding", "key", "retry_after_s")
GATEWAY_KEYS = (
    "enabled",
    "public",
    "providers",
    "routes",
    "rate_limit",
    "keys",
    "cache_binding",
    "usage_binding",
    "log_bodies",
    "ip_hash_salt_secret",
    "max_body_bytes",
)


def _parse_provider(name: str, reader: Reader) -> Provider:
    kind = reader.string("kind", choices=PROVIDER_KINDS)
    base_url = reader.optional_string("base_url")
    if kind == "openai-compatible" and not base_url:
        raise GatewayConfigError(f"{reader.at('base_url')}: required for an openai-compatible provider")
    prices = {}
    for model, price in reader.items("prices"):
        price_reader = Reader(price, f"{reader.at('prices')}.{model}", PRICE_KEYS)
        prices[model] = Price(
            input=price_reader.number("input"),
            output=price_reader.number("output"),
            cached_input=price_reader.optional_number("cached_input"),
        )
    return Provider(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        base_url=base_url.rstrip("/") if base_url else None,
        api_key_secret=reader.optional_string("api_key_secret"),
        timeout_ms=reader.integer("timeout_ms", minimum=1),
        prices=prices,
        default_max_tokens=reader.integer("default_max_tokens", minimum=1),
    )


def _parse_route(alias: str, reader: Reader, providers: Mapping[str, Provider]) -> Route:
    raw_candidates = reader.value["candidates"]
    if not isinstance(raw_candidates, list | tuple) or not raw_candidates:
        raise GatewayConfigError(f"{reader.at('candidates')}: expected a non-empty list")
    candidates = []
    for index, raw in enumerate(raw_candidates):
        item = Reader(raw, f"{reader.at('candidates')}[{index}]", CANDIDATE_KEYS)
        provider = item.string("provider")
        if provider not in providers:
            known = ", ".join(sorted(providers)) or "none"
            raise GatewayConfigError(f"{item.at('provider')}: unknown provider {provider!r} (known: {known})")
        candidates.append(Candidate(provider=provider, model=item.string("model"), weight=item.integer("weight")))
    retry = reader.child("retry", RetryPolicy._fields)
    breaker = reader.child("circuit_breaker", BreakerPolicy._fields)
    cache = reader.child("cache", CachePolicy._fields)
    return Route(
        alias=alias,
        strategy=reader.string("strategy", choices=STRATEGIES),  # type: ignore[arg-type]
        candidates=tuple(candidates),
        retry=RetryPolicy(
            max_attempts=retry.integer("max_attempts", minimum=1),
            backoff=retry.string("backoff", choices=BACKOFFS),  # type: ignore[arg-type]
            base_delay_ms=retry.integer("base_delay_ms"),
            max_total_ms=retry.integer("max_total_ms"),
        ),
        breaker=BreakerPolicy(
            failure_threshold=breaker.integer("failure_threshold", minimum=1),
            cooldown_s=breaker.integer("cooldown_s", minimum=1),
        ),
        cache=CachePolicy(
            enabled=cache.boolean("enabled"),
            ttl_s=cache.integer("ttl_s", minimum=60),
            max_temperature=cache.optional_number("max_temperature"),
        ),
    )


def _parse_key(name: str, reader: Reader, routes: Mapping[str, Route], usage_binding: str | None) -> VirtualKey:
    digest = reader.string("sha256").lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise GatewayConfigError(f"{reader.at('sha256')}: expected 64 hex digits")
    allowed = reader.strings("allowed_models")
    for index, alias in enumerate(allowed):
        if alias not in routes:
            raise GatewayConfigError(f"{reader.at('allowed_models')}[{index}]: unknown model alias {alias!r}")
    key = VirtualKey(
        name=name,
        sha256=digest,
        scope=reader.string("scope"),
        allowed_models=frozenset(allowed),
        requests_per_day=reader.optional_integer("requests_per_day", minimum=1),
        tokens_per_day=reader.optional_integer("tokens_per_day", minimum=1),
        admin=reader.boolean("admin"),
        operator=reader.boolean("operator"),
        approve=reader.boolean("approve"),
        documents=reader.string("documents", choices=("read", "write")),  # type: ignore[arg-type]
    )
    if key.has_quota and not usage_binding:
        raise GatewayConfigError(f"{reader.path}: daily quotas need gateway.usage_binding (a D1 database)")
    return key


def parse_gateway_config(section: Any) -> GatewayConfig:
    """Parse the `gateway` section; raise `GatewayConfigError` naming the key path."""
    reader = Reader(section, "gateway", GATEWAY_KEYS)
    providers = {
        name: _parse_provider(name, Reader(raw, f"gateway.providers.{name}", PROVIDER_KEYS))
        for name, raw in reader.items("providers")
    }
    routes = {
        alias: _parse_route(alias, Reader(raw, f"gateway.routes.{alias}", ROUTE_KEYS), providers)
        for alias, raw in reader.items("routes")
    }
    usage_binding = reader.optional_string("usage_binding")
    keys_by_hash: dict[str, VirtualKey] = {}
    for name, raw in reader.items("keys"):
        key = _parse_key(name, Reader(raw, f"gateway.keys.{name}", KEY_KEYS), routes, usage_binding)
        if key.sha256 in keys_by_hash:
            raise GatewayConfigError(
                f"gateway.keys.{name}.sha256: same hash as key {keys_by_hash[key.sha256].name!r}"
            )
        keys_by_hash[key.sha256] = key
    rate_limit = None
    if not reader.is_null("rate_limit"):
        limit = reader.child("rate_limit", RATE_LIMIT_KEYS)
        rate_limit = RateLimitPolicy(
            binding=limit.string("binding"),
            key=limit.string("key", choices=("ip", "api_key")),  # type: ignore[arg-type]
            retry_after_s=limit.integer("retry_after_s", minimum=1),
        )
    return GatewayConfig(
        enabled=reader.boolean("enabled"),
        public=reader.boolean("public"),
        providers=providers,
        routes=routes,
        keys_by_hash=keys_by_hash,
        rate_limit=rate_limit,
        cache_binding=reader.optional_string("cache_binding"),
        usage_binding=usage_binding,
        log_bodies=reader.boolean("log_bodies"),
        max_body_bytes=reader.integer("max_body_bytes", minimum=1),
        ip_hash_salt_secret=reader.optional_string("ip_hash_salt_secret"),
    )


class ConfigCache(SectionCache["GatewayConfig"]):
    """The gateway section, parsed once per isolate (see `SectionCache`)."""

    def __init__(self) -> None:
        super().__init__("gateway", parse_gateway_config)
