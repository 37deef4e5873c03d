"""The planner's registry of names: logical resource names, Cloudflare names and binding names, each
unique where it must be; a collision is a one-line `PlanError` naming the stack-file field."""

from __future__ import annotations

import re

from infra.errors import EdgestackError
from infra.spec import Stack
from infra.spec.base import RESOURCE_NAME_RE

from .worker_model import PlainTextBinding, WorkerBinding

# Cloudflare: environment variables (plain_text bindings) are limited to 5 KB each.
PLAIN_TEXT_LIMIT = 5 * 1024


class PlanError(EdgestackError):
    """A one-line reason the stack cannot be planned, naming the field path."""


_RESOURCE_NAME = re.compile(RESOURCE_NAME_RE)


class Naming:
    """What one plan has named and bound so far."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.bindings: list[WorkerBinding] = []
        self.binding_sources: dict[str, str] = {}
        self.logical_names: set[str] = set()

    def logical(self, *parts: str, where: str = "") -> str:
        """`<prefix>-<parts...>`, unique across the plan (`where` names the field for errors)."""
        name = "-".join((self.stack.name_prefix, *parts))
        if name in self.logical_names:
            raise PlanError(
                f"{where or name}: the derived resource name {name!r} is already taken "
                "(binding names that differ only in punctuation collide); rename the binding"
            )
        self.logical_names.add(name)
        return name

    def cloudflare_name(self, kind: str, binding: str, explicit: str | None, taken: dict[str, str]) -> str:
        """`<prefix>-<binding-slug>` (or the explicit name), validated and unique within its kind."""
        name = self.stack.resource_name(binding, explicit)
        where = f"bindings.{kind}.{binding}"
        if explicit is None and not _RESOURCE_NAME.match(name):
            raise PlanError(
                f"{where}: derived name {name!r} is not a valid Cloudflare name "
                "(lowercase letters, digits and dashes, at most 63 characters); set `name:`"
            )
        if name in taken:
            raise PlanError(
                f"{where}: Cloudflare name {name!r} is already used by bindings.{kind}.{taken[name]}"
            )
        taken[name] = binding
        return name

    def protect(self, explicit: bool | None) -> bool:
        return self.stack.protect_data if explicit is None else explicit

    def bind(self, binding: WorkerBinding, source: str) -> None:
        if binding.name in self.binding_sources:
            raise PlanError(
                f"{source}: binding name {binding.name!r} is already used by {self.binding_sources[binding.name]}"
            )
        self.binding_sources[binding.name] = source
        self.bindings.append(binding)

    def plain_text(self, name: str, text: str, source: str) -> None:
        size = len(text.encode())
        if size > PLAIN_TEXT_LIMIT:
            raise PlanError(
                f"{source}: {name} is {size} bytes, over Cloudflare's {PLAIN_TEXT_LIMIT} byte limit "
                "for an environment variable"
            )
        self.bind(PlainTextBinding(name=name, text=text), source)

    def zone_id(self, zone: str, where: str) -> str:
        if zone not in self.stack.zones:
            raise PlanError(f"{where}: zone {zone!r} is not declared under `zones`")
        return self.stack.zones[zone].id
