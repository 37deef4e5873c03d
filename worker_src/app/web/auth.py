"""Virtual API keys and the caller: clients present a key (only its sha256 is in the stack file);
the front door turns it into a `Caller` (principal, tenant, rights)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from ..services import Services
from .errors import ApiError
from .ratelimit import RateLimitPolicy, enforce_rate_limit, limit_key

ANONYMOUS_SCOPE = "public"
PUBLIC_TENANT = "public"


class VirtualKey(NamedTuple):
    name: str
    sha256: str
    scope: str
    allowed_models: frozenset[str]
    requests_per_day: int | None
    tokens_per_day: int | None
    admin: bool  # tenant admin: its scope's tools and usage
    operator: bool  # platform operator: every tenant's usage, budgets and dashboard
    approve: bool  # may approve any pending tool call of its tenant, not only its own turns
    documents: Literal["read", "write"]  # RAG: `write` may PUT and DELETE /v1/documents

    def allows(self, alias: str) -> bool:
        return not self.allowed_models or alias in self.allowed_models

    @property
    def has_quota(self) -> bool:
        return self.requests_per_day is not None or self.tokens_per_day is not None


if TYPE_CHECKING:  # a type only: no Protocol class is built at import

    class AccessConfig(Protocol):
        """The part of the gateway section that says who may call `/v1` (`GatewayConfig` has it)."""

        @property
        def public(self) -> bool: ...

        @property
        def keys_by_hash(self) -> Mapping[str, VirtualKey]: ...

        @property
        def rate_limit(self) -> RateLimitPolicy | None: ...

        @property
        def ip_hash_salt_secret(self) -> str | None: ...


class Principal(NamedTuple):
    """Who is calling: a virtual key, or anonymous on a public gateway."""

    key: VirtualKey | None

    @property
    def key_id(self) -> str | None:
        return self.key.name if self.key else None

    @property
    def scope(self) -> str:
        """Cache tenant scope: responses never cross scopes."""
        return f"key-scope:{self.key.scope}" if self.key else ANONYMOUS_SCOPE


def presented_key(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <key>` (OpenAI SDK) or `x-api-key: <key>` (Anthropic SDK)."""
    authorization = headers.get("authorization", "").strip()
    if authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        if token:
            return token
    api_key = headers.get("x-api-key", "").strip()
    return api_key or None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def authenticate(config: AccessConfig, headers: Mapping[str, str]) -> Principal:
    """The caller's principal; 401 without a valid key unless the gateway is public.

    On a public gateway an unknown key is treated as anonymous (SDKs insist on sending some key).
    """
    key = presented_key(headers)
    found = config.keys_by_hash.get(hash_key(key)) if key else None
    if found is not None:
        return Principal(found)
    if config.public:
        return Principal(None)
    if key is None:
        raise ApiError(
            401,
            "authentication",
            "missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`",
            code="missing_api_key",
        )
    raise ApiError(401, "authentication", "invalid API key", code="invalid_api_key")


def require_model(principal: Principal, alias: str) -> None:
    if principal.key is not None and not principal.key.allows(alias):
        raise ApiError(
            403,
            "permission",
            f"this key may not use model {alias!r}",
            param="model",
            code="model_not_allowed",
        )


class Caller(NamedTuple):
    """Who is calling a `/v1` route and for which tenant (shared by chat, agents and RAG routes).

    The tenant is the virtual key's `scope`. Anonymous callers (only possible on a `public: true`
    gateway) are the tenant `public`; a key whose scope is literally `public` shares their data.
    """

    principal: Principal

    @property
    def tenant(self) -> str:
        key = self.principal.key
        return key.scope if key is not None else PUBLIC_TENANT

    @property
    def may_write_documents(self) -> bool:
        """RAG writes (PUT/DELETE /v1/documents): keys with `documents: write`; open on public stacks."""
        key = self.principal.key
        return key is None or key.documents == "write"

    @property
    def is_admin(self) -> bool:
        key = self.principal.key
        return key is not None and key.admin


def client_ip_hash(config: AccessConfig, services: Services, ip: str) -> str | None:
    """Salted hash of the client IP (usage records and per-IP rate limits never see the address)."""
    if not ip:
        return None
    salt = services.secrets.get(config.ip_hash_salt_secret, "") if config.ip_hash_salt_secret else ""
    return hashlib.sha256(f"{salt}|{ip}".encode()).hexdigest()[:32]


async def authorize(
    config: AccessConfig, services: Services, headers: Mapping[str, str], ip_hash: str | None
) -> Caller:
    """The edge checks of every `/v1` request: per-IP rate limit, the key, per-key rate limit."""
    policy = config.rate_limit
    ip = ip_hash or "unknown"
    if policy is not None and policy.key == "ip":
        await enforce_rate_limit(policy, services.rate_limits, limit_key(policy, None, ip))
    principal = authenticate(config, headers)
    if policy is not None and policy.key == "api_key":
        await enforce_rate_limit(policy, services.rate_limits, limit_key(policy, principal.key_id, ip))
    return Caller(principal)


def require_admin(caller: Caller, action: str) -> None:
    """403 unless the caller's key has `admin: true`; `action` names what was refused."""
    if not caller.is_admin:
        raise ApiError(
            403,
            "permission",
            f"{action} needs a virtual key with admin: true",
            code="admin_required",
        )


def principal_for_key_name(config: AccessConfig, key_name: str | None) -> Principal:
    """The principal a request was authenticated as, looked up again by key name (a Durable Object
    acting for a caller, or later for a schedule). 401 if the key was removed or anonymity is off."""
    if key_name is None:
        if config.public:
            return Principal(None)
        raise ApiError(401, "authentication", "anonymous callers are not allowed on this stack")
    for key in config.keys_by_hash.values():
        if key.name == key_name:
            return Principal(key)
    raise ApiError(
        401, "authentication", f"virtual key {key_name!r} no longer exists", code="invalid_api_key"
    )
