"""What the Worker reads at run time besides its bindings: `EDGESTACK_CONFIG`, `EDGESTACK_BUNDLE_VERSION`
and `EDGESTACK_STACK`, all plain-text bindings.

`EDGESTACK_CONFIG` is one JSON object, complete and defaulted, so the Worker never decides a default:

    {"version": 1,
     "bindings": {NAME: kind, ...},          # every binding of the upload (kinds: BINDING_KINDS)
     "worker": {"demo_route": bool},         # the WorkerSpec fields the Worker reads (WORKER_RUNTIME_FIELDS)
     "gateway": {...} | null,                # GatewaySpec, every field (None as null)
     "rag": {...} | null,                    # RagSpec, every field
     "agents": {...} | null,                 # AgentsSpec, every field, plus `own_hosts`
     "mcp": {...} | null}                    # McpSpec, every field

Every key is always present. A section is `null` when the stack file has none: the feature is off.
A section that is present is the pydantic model's full dump (`model_dump(mode="json", by_alias=True)`,
defaults included). The Worker's parsers (`worker_src/app/config.py` and each package's `config.py`)
refuse a missing or unknown key and a `version` other than theirs; `tests/test_runtime_config_contract.py`
keeps them in step with the models.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from infra.spec import Stack
from infra.spec.resources import route_domain

CONFIG_BINDING = "EDGESTACK_CONFIG"
VERSION_BINDING = "EDGESTACK_BUNDLE_VERSION"
STACK_BINDING = "EDGESTACK_STACK"
CONFIG_VERSION = 1
RUNTIME_CONFIG_SECTIONS = ("gateway", "rag", "agents", "mcp")
WORKER_RUNTIME_FIELDS = ("demo_route",)
# Section fields for `edgestack dev` only, never shipped: agents.local_tools (the tools it seeds).
DEV_ONLY_FIELDS: dict[str, frozenset[str]] = {"agents": frozenset({"local_tools"})}


def runtime_config_json(stack: Stack, binding_kinds: Mapping[str, str]) -> str:
    """`EDGESTACK_CONFIG` for `stack` whose upload binds `binding_kinds` (NAME -> kind): compact,
    key-sorted JSON."""
    config: dict[str, object] = {
        "version": CONFIG_VERSION,
        "bindings": dict(binding_kinds),
        "worker": stack.worker.model_dump(mode="json", include=set(WORKER_RUNTIME_FIELDS)),
    }
    for section in RUNTIME_CONFIG_SECTIONS:
        value = getattr(stack, section)
        exclude = set(DEV_ONLY_FIELDS.get(section, ()))
        config[section] = None if value is None else value.model_dump(mode="json", by_alias=True, exclude=exclude)
    agents = config["agents"]
    if isinstance(agents, dict):  # the SSRF guard of agent tools refuses the stack's own hosts
        agents["own_hosts"] = own_hosts(stack)
    return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
