"""Virtual API keys: clients present a key; only its sha256 is in the stack file."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import NamedTuple

from .config import GatewayConfig, VirtualKey
from .errors import GatewayError

ANONYMOUS_SCOPE = "public"


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


def authenticate(config: GatewayConfig, headers: Mapping[str, str]) -> Principal:
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
        raise GatewayError(
            401,
            "authentication",
            "missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`",
            code="missing_api_key",
        )
    raise GatewayError(401, "authentication", "invalid API key", code="invalid_api_key")


def require_model(principal: Principal, alias: str) -> None:
    if principal.key is not None and not principal.key.allows(alias):
        raise GatewayError(
            403,
            "permission",
            f"this key may not use model {alias!r}",
            param="model",
            code="model_not_allowed",
        )
