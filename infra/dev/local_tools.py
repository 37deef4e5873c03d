"""Seed `agents.local_tools` (local stacks): PUT each tool the `public` tenant does not have yet,
through the Worker's own `/v1/tools/{name}` with the local admin key, so a spec is validated exactly
as an admin's PUT is and an edited tool survives a restart."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from infra.spec import Stack
from infra.spec.local_admin import LOCAL_ADMIN_KEY, LOCAL_ADMIN_KEY_SHA256

from .runtime_process import RuntimeStartError


class LocalToolsError(RuntimeStartError):
    """The Worker refused a seeded tool spec (one line, naming `agents.local_tools.NAME.field`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="local_tools")


@dataclass(frozen=True)
class SeededTools:
    added: tuple[str, ...]
    kept: tuple[str, ...]  # already there (perhaps edited): left as they are


    skipped: str = ""  # why nothing was seeded, for the banner


def has_local_admin_key(stack: Stack, *, public_admin: bool = False) -> bool:
    """The stack declares the local admin key (with `public_admin`: as an admin of tenant public)."""
    keys = stack.gateway.keys.values() if stack.gateway else ()
    return any(
        k.sha256 == LOCAL_ADMIN_KEY_SHA256 and k.admin and (k.scope == "public" or not public_admin)
        for k in keys
    )


def seed_local_tools(stack: Stack, runtime_url: str, timeout_s: float = 30.0) -> SeededTools:
    tools = stack.agents.local_tools if stack.agents else {}
    if tools and not has_local_admin_key(stack, public_admin=True):
        return SeededTools((), (), "declare the local admin key under gateway.keys (admin: true, scope: public)")
    added: list[str] = []
    kept: list[str] = []
    headers = {"authorization": f"Bearer {LOCAL_ADMIN_KEY}"}
    with httpx.Client(base_url=runtime_url, headers=headers, timeout=timeout_s) as client:
        for name, spec in tools.items():
            path = f"/v1/tools/{quote(name, safe='')}"
            if client.get(path).status_code == 200:
                kept.append(name)
                continue
            reply = client.put(path, json=spec)
            if reply.status_code != 200:
                raise LocalToolsError(f"agents.local_tools.{name}: {_error_text(reply)}")
            added.append(name)
    return SeededTools(tuple(added), tuple(kept))


def _error_text(reply: httpx.Response) -> str:
    try:
        error = reply.json()["error"]
        param = f"{error['param']}: " if error.get("param") else ""
        return f"{param}{error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {reply.status_code}: {reply.text.strip()[:200]}"
