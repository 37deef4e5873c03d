"""What the Worker reads at run time besides its bindings: `EDGESTACK_CONFIG` (the stack's gateway, rag,
agents and mcp sections as JSON), `EDGESTACK_BUNDLE_VERSION` and `EDGESTACK_STACK`, all plain-text bindings."""

from __future__ import annotations

import json

from infra.spec import Stack
from infra.spec.resources import route_domain

CONFIG_BINDING = "EDGESTACK_CONFIG"
VERSION_BINDING = "EDGESTACK_BUNDLE_VERSION"
STACK_BINDING = "EDGESTACK_STACK"
RUNTIME_CONFIG_SECTIONS = ("gateway", "rag", "agents", "mcp")


def runtime_config_json(stack: Stack) -> str:
    """`EDGESTACK_CONFIG`: the stack's gateway/rag/agents/mcp sections as compact, key-sorted JSON."""
    sections = {}
    for section in RUNTIME_CONFIG_SECTIONS:
        value = getattr(stack, section)
        if value is not None:
            sections[section] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "agents" in sections:  # the SSRF guard of agent tools refuses the stack's own hosts
        sections["agents"]["own_hosts"] = own_hosts(stack)
    return json.dumps(sections, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def own_hosts(stack: Stack) -> list[str]:
    """Hosts that belong to the stack, for the agents' SSRF guard: route hosts and custom domains,
    the parent domain of each (the zone, as far as the stack file tells: it names zones by id), and
    zone keys that are domain names. Lower-case, sorted."""
    hosts = {h for h in stack.zones if "." in h}
    named = [d.hostname for d in stack.worker.custom_domains]
    named += [route_domain(r.pattern) for r in stack.worker.routes]
    for host in named:
        host = host.lower().rstrip(".")
        hosts.add(host)
        labels = host.split(".")
        if len(labels) >= 3:
            hosts.add(".".join(labels[1:]))
    return sorted(h.lower().rstrip(".") for h in hosts if h)
