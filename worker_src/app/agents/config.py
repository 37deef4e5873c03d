"""The Worker's view of the stack's `agents` section (validated by `infra.spec.AgentsSpec` at load).

Defaults here mirror `AgentsSpec`; the stack loader already checked types and ranges, so this only
reads the values (and refuses a section without the bindings the feature needs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..config import SectionCache


class AgentsConfig(NamedTuple):
    state_binding: str
    history_binding: str
    tools_binding: str | None = None
    model_alias: str | None = None
    max_turns: int = 8
    system_prompt: str | None = None
    max_tool_calls: int = 16
    turn_deadline_s: int = 120
    max_context_messages: int = 40
    max_message_chars: int = 32_000
    max_tool_output_chars: int = 16_000
    tool_timeout_ms: int = 10_000
    tool_cache_ttl_s: int = 10
    max_schedules: int = 50
    own_hosts: tuple[str, ...] = ()  # the stack's zones/domains/route hosts (added by the planner)
    tool_secrets: tuple[str, ...] = ()  # the only Worker secrets a tool's secret_headers may name


def agents_config(root: Mapping[str, Any]) -> AgentsConfig | None:
    """The agents section of `EDGESTACK_CONFIG`, or None when the stack has none or disables it."""
    return _SECTION.get(root)


def _parse_section(section: Any) -> AgentsConfig | None:
    if not isinstance(section, Mapping) or section.get("enabled") is False:
        return None
    state, history = section.get("state_binding"), section.get("history_binding")
    if not isinstance(state, str) or not isinstance(history, str):
        return None
    values: dict[str, Any] = {"state_binding": state, "history_binding": history}
    for name, default in AgentsConfig._field_defaults.items():
        value = section.get(name)
        if value is None:
            continue
        if name == "own_hosts":
            values[name] = tuple(str(h).lower() for h in value)
        elif name == "tool_secrets":
            values[name] = tuple(str(s) for s in value)
        elif isinstance(default, int) and not isinstance(value, bool) and isinstance(value, int | float):
            values[name] = int(value)
        elif isinstance(value, str):
            values[name] = value
    return AgentsConfig(**values)


_SECTION: SectionCache[AgentsConfig | None] = SectionCache("agents", _parse_section)  # parsed once per isolate


def rag_configured(root: Mapping[str, Any]) -> bool:
    section = root.get("rag") if isinstance(root, Mapping) else None
    return isinstance(section, Mapping) and section.get("enabled", True) is not False
