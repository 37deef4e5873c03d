"""The Worker's view of the stack's `mcp` section (validated by `infra.spec.McpSpec`; the planner
ships every field, defaults included, so nothing is defaulted here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..config import SectionCache


class McpConfigError(ValueError):
    """The shipped section is not what the planner writes (a bundle/config mismatch)."""


class McpConfig(NamedTuple):
    tools: frozenset[str]  # the exposed tool names
    resources: bool  # documents as resources
    allowed_origins: frozenset[str]  # browser origins besides the endpoint's own


def _strings(section: Mapping[str, Any], key: str) -> frozenset[str]:
    value = section.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise McpConfigError(f"mcp.{key} must be a list of strings")
    return frozenset(value)


def _parse_section(section: Any) -> McpConfig | None:
    if not isinstance(section, Mapping):
        raise McpConfigError("the mcp section must be an object")
    enabled, resources = section.get("enabled"), section.get("resources")
    if not isinstance(enabled, bool) or not isinstance(resources, bool):
        raise McpConfigError("mcp.enabled and mcp.resources must be true or false")
    if not enabled:
        return None
    return McpConfig(
        _strings(section, "tools"),
        resources,
        frozenset(o.lower().rstrip("/") for o in _strings(section, "allowed_origins")),
    )


_SECTION: SectionCache[McpConfig | None] = SectionCache("mcp", _parse_section, (McpConfigError,))


def mcp_config(root: Mapping[str, Any]) -> McpConfig | None:
    """The mcp section of `EDGESTACK_CONFIG`; None when the stack has none or disables it."""
    return _SECTION.get(root)
