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

from ..config import ConfigError
from ..sections import Reader, SectionCache
from ..web.auth import VirtualKey
from ..web.ratelimit import RateLimitPolicy

ProviderKind = Literal["openai", "anthropic", "workers-ai", "openai-compatible", "local-echo"]
Strategy = Literal["cheapest", "fastest", "fallback", "weighted"]
Backoff = Literal["constant", "linear", "exponential"]

PROVIDER_KINDS: tuple[str, ...] = ("openai", "anthropic", "workers-ai", "openai-compatible", "local-echo")
STRATEGIES: tuple[str, ...] = ("cheapest", "fastest", "fallback", "weighted")
BACKOFFS: tuple[str, ...] = ("constant", "linear", "exponential")

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


class Price(NamedTuple):
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None


class Provider(NamedTuple):
    name: str
    kind: ProviderKind
    base_url: str | None
    api_key_secret: str | None
    timeout_ms: int
    prices: Mapping[str, Price]
    default_max_tokens: int
    anthropic_betas: frozenset[str]  # anthropic-beta values clients may send through

    @property
    def api(self) -> Literal["openai", "anthropic"]:
        """The wire format this provider speaks (Workers AI and local-echo are adapted to OpenAI's)."""
        return "anthropic" if self.kind == "anthropic" else "openai"

    @property
    def stand_in(self) -> bool:
        """No model (local-echo): tried only after every real candidate, whatever the strategy."""
        return self.kind == "local-echo"


class Candidate(NamedTuple):
    provider: str
    model: str
    weight: int

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


class RetryPolicy(NamedTuple):
    max_attempts: int
    backoff: Backoff
    base_delay_ms: int
    max_total_ms: int

    def delay_ms(self, retry_number: int) -> float:
        """Backoff before the `retry_number`-th retry of one candidate (1-based)."""
        n = max(1, retry_number)
        if self.backoff == "constant":
            return float(self.base_delay_ms)
        if self.backoff == "linear":
            return float(self.base_delay_ms * n)
        return float(self.base_delay_ms * (2 ** (n - 1)))


class BreakerPolicy(NamedTuple):
    failure_threshold: int
    cooldown_s: int


class CachePolicy(NamedTuple):
    enabled: bool
    ttl_s: int
    max_temperature: float | None


RouteKind = Literal["chat", "embeddings"]


class Route(NamedTuple):
    alias: str
    strategy: Strategy
    candidates: tuple[Candidate, ...]
    retry: RetryPolicy
    breaker: BreakerPolicy
    cache: CachePolicy
    kind: RouteKind


class ResponseStorePolicy(NamedTuple):
    """D1 database holding stored Responses API responses, and how long they are kept."""

    binding: str
    ttl_s: int


class Budget(NamedTuple):
    """A spend limit in USD per UTC day or month (`gateway.budgets`, shorthands already expanded)."""

    name: str
    scope: Literal["key", "tenant", "stack"]
    match: str | None
    limit_usd: float
    window: Literal["day", "month"]
    hard: bool
    alert_at: tuple[float, ...] = ()
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = None


class GatewayConfig(NamedTuple):
    enabled: bool
    public: bool
    providers: Mapping[str, Provider]
    routes: Mapping[str, Route]
    keys_by_hash: Mapping[str, VirtualKey]
    rate_limit: RateLimitPolicy | None
    cache_binding: str | None
    usage_binding: str | None
    log_bodies: bool
    max_body_bytes: int
    ip_hash_salt_secret: str | None
    budgets: tuple[Budget, ...]
    budget_binding: str | None
    response_store: ResponseStorePolicy | None


PROVIDER_KEYS = (
    "kind",
    "base_url",
    "api_key_secret",
    "timeout_ms",
    "prices",
    "default_max_tokens",
    "anthropic_betas",
)
PRICE_KEYS = ("input", "output", "cached_input")
ROUTE_KEYS = ("kind", "strategy", "candidates", "retry", "circuit_breaker", "cache")
RESPONSE_STORE_KEYS = ("binding", "ttl_s")
CANDIDATE_KEYS = ("provider", "model", "weight")
KEY_KEYS = (
    "sha256",
    "scope",
    "allowed_models",
    "requests_per_day",
    "tokens_per_day",
    "admin",
    "operator",
    "approve",
    "documents",
    "budget_usd_per_day",
    "budget_usd_per_month",
)
BUDGET_KEYS = (
    "scope",
    "match",
    "limit_usd",
    "window",
    "mode",
    "alert_at",
    "alert_webhook_url",
    "alert_webhook_secret",
)
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
    "response_store",
    "log_bodies",
    "ip_hash_salt_secret",
    "max_body_bytes",
    "budgets",
    "budget_binding",
)


def _parse_provider(name: str, reader: Reader) -> Provider:
    kind = reader.string("kind", choices=PROVIDER_KINDS)
    base_url = reader.optional_string("base_url")
    if kind == "openai-compatible" and not base_url:
        raise ConfigError(f"{reader.at('base_url')}: required for an openai-compatible provider")
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
        anthropic_betas=frozenset(reader.strings("anthropic_betas")),
    )


def _parse_route(alias: str, reader: Reader, providers: Mapping[str, Provider]) -> Route:
    raw_candidates = reader.value["candidates"]
    if not isinstance(raw_candidates, list | tuple) or not raw_candidates:
        raise ConfigError(f"{reader.at('candidates')}: expected a non-empty list")
    candidates = []
    for index, raw in enumerate(raw_candidates):
        item = Reader(raw, f"{reader.at('candidates')}[{index}]", CANDIDATE_KEYS)
        provider = item.string("provider")
        if provider not in providers:
            known = ", ".join(sorted(providers)) or "none"
            raise ConfigError(f"{item.at('provider')}: unknown provider {provider!r} (known: {known})")
        candidates.append(
            Candidate(provider=provider, model=item.string("model"), weight=item.integer("weight"))
        )
    kind = reader.string("kind", choices=("chat", "embeddings"))
    for index, candidate in enumerate(candidates):
        if kind == "embeddings" and providers[candidate.provider].kind == "anthropic":
            raise ConfigError(
                f"{reader.at('candidates')}[{index}].provider: an embeddings route cannot use "
                f"anthropic provider {candidate.provider!r}"
            )
    retry = reader.child("retry", RetryPolicy._fields)
    breaker = reader.child("circuit_breaker", BreakerPolicy._fields)
    cache = reader.child("cache", CachePolicy._fields)
    return Route(
        alias=alias,
        kind=kind,  # type: ignore[arg-type]
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


def _parse_key(
    name: str, reader: Reader, routes: Mapping[str, Route], usage_binding: str | None
) -> VirtualKey:
    digest = reader.string("sha256").lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ConfigError(f"{reader.at('sha256')}: expected 64 hex digits")
    allowed = reader.strings("allowed_models")
    for index, alias in enumerate(allowed):
        if alias not in routes:
            raise ConfigError(f"{reader.at('allowed_models')}[{index}]: unknown model alias {alias!r}")
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
        raise ConfigError(f"{reader.path}: daily quotas need gateway.usage_binding (a D1 database)")
    return key


def _positive(reader: Reader, key: str) -> float | None:
    value = reader.optional_number(key)
    if value is not None and value <= 0:
        raise ConfigError(f"{reader.at(key)}: must be > 0")
    return value


def _parse_budget(name: str, reader: Reader, keys: Mapping[str, VirtualKey]) -> Budget:
    scope = reader.string("scope", choices=("key", "tenant", "stack"))
    match = reader.optional_string("match")
    if scope == "key" and match is not None and not any(k.name == match for k in keys.values()):
        raise ConfigError(f"{reader.at('match')}: no key named {match!r}")
    limit = _positive(reader, "limit_usd")
    if limit is None:
        raise ConfigError(f"{reader.at('limit_usd')}: expected a number > 0")
    raw_alerts = reader.value["alert_at"]
    if not isinstance(raw_alerts, list | tuple) or not all(
        isinstance(a, int | float) and not isinstance(a, bool) and 0 < a < 1 for a in raw_alerts
    ):
        raise ConfigError(f"{reader.at('alert_at')}: expected fractions strictly between 0 and 1")
    return Budget(
        name=name,
        scope=scope,  # type: ignore[arg-type]
        match=match,
        limit_usd=limit,
        window=reader.string("window", choices=("day", "month")),  # type: ignore[arg-type]
        hard=reader.string("mode", choices=("hard", "soft")) == "hard",
        alert_at=tuple(sorted(float(a) for a in raw_alerts)),
        alert_webhook_url=reader.optional_string("alert_webhook_url"),
        alert_webhook_secret=reader.optional_string("alert_webhook_secret"),
    )


def _key_budgets(name: str, reader: Reader) -> list[Budget]:
    """A key's `budget_usd_per_day/month` shorthands: hard budgets named as `GatewaySpec.all_budgets`
    names them (`key:<name>:<window>`)."""
    out = []
    for window in ("day", "month"):
        limit = _positive(reader, f"budget_usd_per_{window}")
        if limit is not None:
            out.append(Budget(f"key:{name}:{window}", "key", name, limit, window, True))  # type: ignore[arg-type]
    return out


def parse_gateway_config(section: Any) -> GatewayConfig:
    """Parse the `gateway` section; raise `ConfigError` naming the key path."""
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
    key_budgets: list[Budget] = []
    for name, raw in reader.items("keys"):
        key_reader = Reader(raw, f"gateway.keys.{name}", KEY_KEYS)
        key = _parse_key(name, key_reader, routes, usage_binding)
        key_budgets.extend(_key_budgets(name, key_reader))
        if key.sha256 in keys_by_hash:
            raise ConfigError(
                f"gateway.keys.{name}.sha256: same hash as key {keys_by_hash[key.sha256].name!r}"
            )
        keys_by_hash[key.sha256] = key
    budgets = tuple(
        _parse_budget(name, Reader(raw, f"gateway.budgets.{name}", BUDGET_KEYS), keys_by_hash)
        for name, raw in reader.items("budgets")
    ) + tuple(key_budgets)
    budget_binding = reader.optional_string("budget_binding")
    if budgets and budget_binding is None:
        raise ConfigError(
            "gateway.budget_binding: budgets need a Durable Object binding (BudgetCounter)"
        )
    rate_limit = None
    if not reader.is_null("rate_limit"):
        limit = reader.child("rate_limit", RATE_LIMIT_KEYS)
        rate_limit = RateLimitPolicy(
            binding=limit.string("binding"),
            key=limit.string("key", choices=("ip", "api_key")),  # type: ignore[arg-type]
            retry_after_s=limit.integer("retry_after_s", minimum=1),
        )
    response_store = None
    if not reader.is_null("response_store"):
        store = reader.child("response_store", RESPONSE_STORE_KEYS)
        response_store = ResponseStorePolicy(
            binding=store.string("binding"), ttl_s=store.integer("ttl_s", minimum=60)
        )
    return GatewayConfig(
        response_store=response_store,
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
        budgets=budgets,
        budget_binding=budget_binding,
    )


class ConfigCache(SectionCache["GatewayConfig"]):
    """The gateway section, parsed once per isolate (see `SectionCache`)."""

    def __init__(self) -> None:
        super().__init__("gateway", parse_gateway_config)
