"""The Worker's view of the stack's `agents` section (validated by `infra.spec.AgentsSpec` at load,
shipped complete by the planner, plus `own_hosts`); parsed once per isolate, without defaults of its own."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..config import ConfigError, RuntimeConfig
from ..sections import Reader, SectionCache
from ..web.errors import ApiError


class AgentsConfig(NamedTuple):
    enabled: bool
    state_binding: str
    history_binding: str
    tools_binding: str | None
    model_alias: str | None
    max_turns: int
    system_prompt: str | None
    max_tool_calls: int
    turn_deadline_s: int
    max_context_messages: int
    max_message_chars: int
    max_tool_output_chars: int
    tool_timeout_ms: int
    tool_cache_ttl_s: int
    max_schedules: int
    tool_secrets: tuple[str, ...]  # the only Worker secrets a tool's secret_headers may name
    own_hosts: tuple[str, ...]  # the stack's zones/domains/route hosts (added by the planner)


def parse_agents_config(section: Any) -> AgentsConfig:
    """Parse the `agents` section; raise `ConfigError` naming the key path."""
    reader = Reader(section, "agents", AgentsConfig._fields)
    return AgentsConfig(
        enabled=reader.boolean("enabled"),
        state_binding=reader.string("state_binding"),
        history_binding=reader.string("history_binding"),
        tools_binding=reader.optional_string("tools_binding"),
        model_alias=reader.optional_string("model_alias"),
        max_turns=reader.integer("max_turns", minimum=1),
        system_prompt=reader.optional_string("system_prompt"),
        max_tool_calls=reader.integer("max_tool_calls", minimum=1),
        turn_deadline_s=reader.integer("turn_deadline_s", minimum=1),
        max_context_messages=reader.integer("max_context_messages", minimum=1),
        max_message_chars=reader.integer("max_message_chars", minimum=1),
        max_tool_output_chars=reader.integer("max_tool_output_chars", minimum=1),
        tool_timeout_ms=reader.integer("tool_timeout_ms", minimum=1),
        tool_cache_ttl_s=reader.integer("tool_cache_ttl_s"),
        max_schedules=reader.integer("max_schedules", minimum=1),
        tool_secrets=tuple(reader.strings("tool_secrets")),
        own_hosts=tuple(h.lower() for h in reader.strings("own_hosts")),
    )


_SECTION: SectionCache[AgentsConfig] = SectionCache("agents", parse_agents_config)  # parsed once per isolate


def agents_config(config: RuntimeConfig) -> AgentsConfig | None:
    """The enabled agents section, None when the stack has none or disables it; raises
    `app.config.ConfigError` when it is unusable."""
    agents = _SECTION.get(config)
    return agents if agents is not None and agents.enabled else None


def serving_agents_config(config: RuntimeConfig) -> AgentsConfig:
    """The agents section for a request: `ApiError` 503 when it is unusable, 404 when agents are off."""
    try:
        agents = agents_config(config)
    except ConfigError as error:
        raise ApiError(503, "misconfigured", f"agents misconfigured: {error}") from None
    if agents is None:
        raise ApiError(404, "not_found", "agents are not enabled on this stack")
    return agents
