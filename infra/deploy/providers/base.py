"""Shared base of edgestack's dynamic providers: run-time token, never serialized."""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from infra.deploy.cloudflare_api import TOKEN_CONFIG_KEY, CloudflareApi, connect, resolve_token
from infra.errors import EdgestackError


class ProviderError(EdgestackError, RuntimeError):
    """A one-line error a provider raises for the user (Pulumi prints it under the resource)."""


class CloudflareProvider(ResourceProvider):
    """Pulumi pickles a dynamic provider into the stack state (`__provider`), so it must hold no
    credentials when pickled. The token arrives in the provider process through `configure` (the
    stack's `cloudflare:apiToken` secret) or the environment, and lives only in memory; `__getstate__`
    drops it even if a caller configured this instance before it was pickled.
    """

    _RUNTIME_FIELDS = ("_config_token", "_api")

    def __init__(self) -> None:
        super().__init__()
        self._config_token: str | None = None
        self._api: CloudflareApi | None = None

    def configure(self, req: ConfigureRequest) -> None:
        value = req.config.get(TOKEN_CONFIG_KEY)
        self._config_token = value if isinstance(value, str) else None

    def use_api(self, api: CloudflareApi) -> None:
        """Use a prepared client (tests, the local runtime) instead of building one from the token."""
        self._api = api

    def api(self) -> CloudflareApi:
        if self._api is None:
            self._api = connect(resolve_token(self._config_token))
        return self._api

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._RUNTIME_FIELDS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in self._RUNTIME_FIELDS:
            setattr(self, name, None)
