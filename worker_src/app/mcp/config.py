"""The Worker's view of the stack's `mcp` section (validated by `infra.spec.McpSpec` at load,
shipped complete by the planner); parsed once per isolate, without defaults of its own."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..config import RuntimeConfig
from ..sections import Reader, SectionCache


class McpConfig(NamedTuple):
    enabled: bool
    tools: tuple[str, ...]  # the exposed tool names
    resources: bool  # documents as resources
    allowed_origins: tuple[str, ...]  # browser origins besides the endpoint's own (lower-case)


def parse_mcp_config(section: Any) -> McpConfig:
    """Parse the `mcp` section; raise `ConfigError` naming the key path."""
    reader = Reader(section, "mcp", McpConfig._fields)
    return McpConfig(
        enabled=reader.boolean("enabled"),
        tools=reader.strings("tools"),
        resources=reader.boolean("resources"),
        allowed_origins=tuple(o.lower().rstrip("/") for o in reader.strings("allowed_origins")),
    )


_SECTION: SectionCache[McpConfig] = SectionCache("mcp", parse_mcp_config)  # parsed once per isolate


def mcp_config(config: RuntimeConfig) -> McpConfig | None:
    """The enabled mcp section, None when the stack has none or disables it; raises
    `app.config.ConfigError` when it is unusable."""
    mcp = _SECTION.get(config)
    return mcp if mcp is not None and mcp.enabled else None
