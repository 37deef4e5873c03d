"""The gateway's view of its stack config: immutable records (NamedTuples), parsed once per isolate.

NamedTuples rather than frozen dataclasses: they are typed and immutable too, and an order of
magnitude cheaper to define, which matters because Workers import (and compile) this at cold start.

The input is the stack's `gateway` section as the planner ships it inside `EDGESTACK_CONFIG`
(pydantic `model_dump(mode="json", by_alias=True, exclude_none=True)` of `GatewaySpec`). The stack
loader already validated field types; this parser re-checks what the Worker relies on and the
references inside the section, and names the key path of anything wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from ..config import SectionCache
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


class GatewayConfigError(ValueError):
    """The gateway section is unusable; the message names the key path."""


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
    anthropic_betas: frozenset[str] = frozenset()  # anthropic-beta values clients may send through

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


RouteKind = Literal["chat", "embeddings"]


class Route(NamedTuple):
    alias: str
    strategy: Strategy
    candidates: tuple[Candidate, ...]
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    cache: CachePolicy = CachePolicy()
    kind: RouteKind = "chat"


class ResponseStorePolicy(NamedTuple):
    """D1 database holding stored Responses API responses, and how long they are kept."""

    binding: str
    ttl_s: int = 30 * 86400


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
    response_store: ResponseStorePolicy | None = None


class _Reader:
    """Typed access to one JSON object, with the key path for error messages."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise GatewayConfigError(f"{path}: expected an object, got {type(value).__name__}")
        self.value = value
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def _get(self, key: str, default: Any) -> Any:
        return self.value.get(key, default)

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise GatewayConfigError(f"{self.at(key)}: expected a non-empty string")
        if choices and value not in choices:
            raise GatewayConfigError(f"{self.at(key)}: must be one of {', '.join(choices)}; got {value!r}")
        return value

    def optional_string(self, key: str) -> str | None:
        if self._get(key, None) is None:
            return None
        return self.string(key)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise GatewayConfigError(f"{self.at(key)}: expected true or false")
        return value

    def integer(self, key: str, default: int | None, minimum: int = 0) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise GatewayConfigError(f"{self.at(key)}: expected an integer")
        if value < minimum:
            raise GatewayConfigError(f"{self.at(key)}: must be >= {minimum}")
        return value

    def optional_integer(self, key: str, minimum: int = 0) -> int | None:
        if self._get(key, None) is None:
            return None
        return self.integer(key, None, minimum)

    def number(self, key: str, default: float | None = None) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise GatewayConfigError(f"{self.at(key)}: expected a number >= 0")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        if self._get(key, None) is None:
            return None
        return self.number(key)

    def strings(self, key: str) -> list[str]:
        value = self._get(key, ())
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise GatewayConfigError(f"{self.at(key)}: expected a list of non-empty strings")
        return list(value)

    def child(self, key: str) -> _Reader:
        return _Reader(self._get(key, {}), self.at(key))

    def items(self, key: str) -> list[tuple[str, Any]]:
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise GatewayConfigError(f"{self.at(key)}: expected an object")
        return list(value.items())


def _parse_provider(name: str, reader: _Reader) -> Provider:
    kind = reader.string("kind", choices=PROVIDER_KINDS)
    base_url = reader.optional_string("base_url")
    if kind == "openai-compatible" and not base_url:
        raise GatewayConfigError(f"{reader.at('base_url')}: required for an openai-compatible provider")
    prices = {}
    for model, price in reader.items("prices"):
        price_reader = _Reader(price, f"{reader.at('prices')}.{model}")
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
        timeout_ms=reader.integer("timeout_ms", 30_000, minimum=1),
        prices=prices,
        default_max_tokens=reader.integer("default_max_tokens", 4096, minimum=1),
        anthropic_betas=frozenset(reader.strings("anthropic_betas")),
    )


def _parse_route(alias: str, reader: _Reader, providers: Mapping[str, Provider]) -> Route:
    raw_candidates = reader.value.get("candidates")
    if not isinstance(raw_candidates, list | tuple) or not raw_candidates:
        raise GatewayConfigError(f"{reader.at('candidates')}: expected a non-empty list")
    candidates = []
    for index, raw in enumerate(raw_candidates):
        item = _Reader(raw, f"{reader.at('candidates')}[{index}]")
        provider = item.string("provider")
        if provider not in providers:
            known = ", ".join(sorted(providers)) or "none"
            raise GatewayConfigError(f"{item.at('provider')}: unknown provider {provider!r} (known: {known})")
        candidates.append(
            Candidate(provider=provider, model=item.string("model"), weight=item.integer("weight", 1))
        )
    kind = reader.string("kind", "chat", choices=("chat", "embeddings"))
    for index, candidate in enumerate(candidates):
        if kind == "embeddings" and providers[candidate.provider].kind == "anthropic":
            raise GatewayConfigError(
                f"{reader.at('candidates')}[{index}].provider: an embeddings route cannot use "
                f"anthropic provider {candidate.provider!r}"
            )
    retry = reader.child("retry")
    breaker = reader.child("circuit_breaker")
    cache = reader.child("cache")
    return Route(
        alias=alias,
        kind=kind,  # type: ignore[arg-type]
        strategy=reader.string("strategy", "fallback", choices=STRATEGIES),  # type: ignore[arg-type]
        candidates=tuple(candidates),
        retry=RetryPolicy(
            max_attempts=retry.integer("max_attempts", 3, minimum=1),
            backoff=retry.string("backoff", "exponential", choices=BACKOFFS),  # type: ignore[arg-type]
            base_delay_ms=retry.integer("base_delay_ms", 100),
            max_total_ms=retry.integer("max_total_ms", 20_000),
        ),
        breaker=BreakerPolicy(
            failure_threshold=breaker.integer("failure_threshold", 5, minimum=1),
            cooldown_s=breaker.integer("cooldown_s", 30, minimum=1),
        ),
        cache=CachePolicy(
            enabled=cache.boolean("enabled", False),
            ttl_s=cache.integer("ttl_s", 3600, minimum=60),
            max_temperature=cache.optional_number("max_temperature"),
        ),
    )


def _parse_key(
    name: str, reader: _Reader, routes: Mapping[str, Route], usage_binding: str | None
) -> VirtualKey:
    digest = reader.string("sha256").lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise GatewayConfigError(f"{reader.at('sha256')}: expected 64 hex digits")
    allowed = reader.value.get("allowed_models", ())
    if not isinstance(allowed, list | tuple) or not all(isinstance(a, str) for a in allowed):
        raise GatewayConfigError(f"{reader.at('allowed_models')}: expected a list of model aliases")
    for index, alias in enumerate(allowed):
        if alias not in routes:
            raise GatewayConfigError(f"{reader.at('allowed_models')}[{index}]: unknown model alias {alias!r}")
    key = VirtualKey(
        name=name,
        sha256=digest,
        scope=reader.string("scope", "default"),
        allowed_models=frozenset(allowed),
        requests_per_day=reader.optional_integer("requests_per_day", minimum=1),
        tokens_per_day=reader.optional_integer("tokens_per_day", minimum=1),
        admin=reader.boolean("admin", False),
        documents=reader.string("documents", "read", choices=("read", "write")),  # type: ignore[arg-type]
    )
    if key.has_quota and not usage_binding:
        raise GatewayConfigError(f"{reader.path}: daily quotas need gateway.usage_binding (a D1 database)")
    return key


def parse_gateway_config(section: Any) -> GatewayConfig:
    """Parse the `gateway` section; raise `GatewayConfigError` naming the key path."""
    reader = _Reader(section, "gateway")
    providers = {
        name: _parse_provider(name, _Reader(raw, f"gateway.providers.{name}"))
        for name, raw in reader.items("providers")
    }
    routes = {
        alias: _parse_route(alias, _Reader(raw, f"gateway.routes.{alias}"), providers)
        for alias, raw in reader.items("routes")
    }
    usage_binding = reader.optional_string("usage_binding")
    keys_by_hash: dict[str, VirtualKey] = {}
    for name, raw in reader.items("keys"):
        key = _parse_key(name, _Reader(raw, f"gateway.keys.{name}"), routes, usage_binding)
        if key.sha256 in keys_by_hash:
            raise GatewayConfigError(
                f"gateway.keys.{name}.sha256: same hash as key {keys_by_hash[key.sha256].name!r}"
            )
        keys_by_hash[key.sha256] = key
    rate_limit = None
    if reader.value.get("rate_limit") is not None:
        limit = reader.child("rate_limit")
        rate_limit = RateLimitPolicy(
            binding=limit.string("binding"),
            key=limit.string("key", "ip", choices=("ip", "api_key")),  # type: ignore[arg-type]
            retry_after_s=limit.integer("retry_after_s", 60, minimum=1),
        )
    response_store = None
    if reader.value.get("response_store") is not None:
        store = reader.child("response_store")
        response_store = ResponseStorePolicy(
            binding=store.string("binding"), ttl_s=store.integer("ttl_s", 30 * 86400, minimum=60)
        )
    return GatewayConfig(
        response_store=response_store,
        enabled=reader.boolean("enabled", True),
        public=reader.boolean("public", False),
        providers=providers,
        routes=routes,
        keys_by_hash=keys_by_hash,
        rate_limit=rate_limit,
        cache_binding=reader.optional_string("cache_binding"),
        usage_binding=usage_binding,
        log_bodies=reader.boolean("log_bodies", False),
        max_body_bytes=reader.integer("max_body_bytes", 1_048_576, minimum=1),
        ip_hash_salt_secret=reader.optional_string("ip_hash_salt_secret"),
    )


class ConfigCache(SectionCache["GatewayConfig"]):
    """The gateway section, parsed once per isolate (see `SectionCache`)."""

    def __init__(self) -> None:
        super().__init__("gateway", parse_gateway_config, (GatewayConfigError,))
