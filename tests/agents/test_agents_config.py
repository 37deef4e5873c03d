"""The agents section as the Worker gets it: AgentsSpec fields, and the stack's own hosts the planner adds."""

from __future__ import annotations

import json

import pytest
from app.agents.config import agents_config
from app.config import RuntimeConfig
from harness.planned import planned_config, runtime_config
from pulumi_mocks import make_stack
from pydantic import ValidationError

from infra.plan.runtime_config import runtime_config_json
from infra.spec import AgentsSpec


def test_the_planner_ships_the_stack_hosts_for_the_ssrf_guard() -> None:
    config = json.loads(runtime_config_json(make_stack(), {}))
    assert config["agents"]["own_hosts"] == ["ai.shop.example", "api.shop.example", "shop.example"]
    parsed = agents_config(runtime_config(config))
    assert parsed is not None and parsed.own_hosts == ("ai.shop.example", "api.shop.example", "shop.example")
    assert (parsed.max_turns, parsed.max_context_messages, parsed.tool_cache_ttl_s) == (8, 40, 10)


def _with_agents(**agents: object) -> RuntimeConfig:
    return runtime_config(planned_config({"agents": {"state_binding": "AGENT", "history_binding": "DB", **agents}}))


def test_agents_off_or_absent_is_none() -> None:
    assert agents_config(runtime_config(planned_config({}))) is None
    assert agents_config(_with_agents(enabled=False)) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_turns", 0),
        ("max_context_messages", 1),
        ("tool_cache_ttl_s", 61),
        ("turn_deadline_s", 901),
        ("nope", 1),
    ],
)
def test_agents_spec_rejects_out_of_range_fields(field: str, value: int) -> None:
    with pytest.raises(ValidationError) as caught:
        AgentsSpec.model_validate({"state_binding": "AGENT", "history_binding": "DB", field: value})
    assert field in str(caught.value)


def test_agents_section_is_parsed_once_per_isolate() -> None:
    first = agents_config(_with_agents(max_turns=3))
    assert agents_config(_with_agents(max_turns=3)) is first  # equal content: no re-parse
    changed = agents_config(_with_agents(max_turns=4))
    assert changed is not first and changed is not None and changed.max_turns == 4
