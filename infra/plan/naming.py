"""The planner's registry of names: logical resource names and Cloudflare names, each unique where it
must be (a collision is a one-line `PlanError` naming the stack-file field: these names are derived
at plan time), and the Worker's bindings (env names are unique: `load_stack` checks them)."""

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

    def bind(self, binding: WorkerBinding) -> None:
        """Env names are unique and `EDGESTACK_` is reserved for the planner's own (`load_stack`)."""
        self.bindings.append(binding)

    def plain_text(self, name: str, text: str, source: str) -> None:
        size = len(text.encode())
        if size > PLAIN_TEXT_LIMIT:
            raise PlanError(
                f"{source}: {name} is {size} bytes, over Cloudflare's {PLAIN_TEXT_LIMIT} byte limit "
                "for an environment variable"
            )
        self.bind(PlainTextBinding(name=name, text=text))

    def zone_id(self, zone: str) -> str:
        """The id of a declared zone (`load_stack` refuses an undeclared one)."""
        return self.stack.zones[zone].id
