"""The contract between the planner's `EDGESTACK_CONFIG` and the Worker's parsers: the parsers read
exactly the pydantic models' fields, with the models' defaults (as the real planner ships them),
refuse a config missing any one key, an unknown key or a wrong type (naming the key path), and the
Worker serves /demo only on a stack file that asks for it."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO / "worker_src", REPO / "tests"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from app.agents.config import AgentsConfig, parse_agents_config  # noqa: E402
from app.config import (  # noqa: E402
    BINDING_KINDS,
    CONFIG_VERSION,
    BuildInfo,
    ConfigError,
    WorkerConfig,
    parse_runtime_config,
)
from app.gateway import config as gateway_config  # noqa: E402
from app.http import HttpRequest  # noqa: E402
from app.mcp.config import McpConfig, parse_mcp_config  # noqa: E402
from app.rag.config import Fusion, MinScore, RagConfig, Rerank, RewriteQuery, parse_rag_config  # noqa: E402
from app.router import handle  # noqa: E402
from app.services import Services  # noqa: E402
from app.web.auth import VirtualKey  # noqa: E402
from app.web.ratelimit import RateLimitPolicy  # noqa: E402
from harness.planned import key_sha256, planned_config  # noqa: E402

from infra.plan import worker_model  # noqa: E402
from infra.plan.bundle import Bundle  # noqa: E402
from infra.plan.planner import plan  # noqa: E402
from infra.plan.runtime_config import CONFIG_BINDING, DEV_ONLY_FIELDS, WORKER_RUNTIME_FIELDS  # noqa: E402
from infra.plan.runtime_config import CONFIG_VERSION as PLANNER_VERSION  # noqa: E402
from infra.spec import AgentsSpec, GatewaySpec, McpSpec, RagSpec, WorkerSpec  # noqa: E402
from infra.spec import apps as spec_apps  # noqa: E402
from infra.stackfile.load import load_stack  # noqa: E402
from infra.stackfile.names import list_stack_files  # noqa: E402

# Every model kind once: a provider with a price, a route (retry, breaker, cache), a key, a rate limit.
SECTIONS: dict[str, Any] = {
    "gateway": {
        "usage_binding": "DB",
        "rate_limit": {"binding": "RATE_LIMITER"},
        "providers": {"p": {"kind": "openai", "api_key_secret": "OPENAI_API_KEY", "prices": {"m": {"input": 1, "output": 2}}}},
        "routes": {"chat": {"candidates": [{"provider": "p", "model": "m"}]}},
        "keys": {"k": {"sha256": key_sha256("k")}},
    },
    "rag": {"documents_binding": "DOCS", "index_binding": "VECTORS", "generation": "extractive"},
    "agents": {"state_binding": "AGENT", "history_binding": "DB"},
    "mcp": {},
}
# Objects in the config whose keys are names the stack file chooses (deleting one is no error).
NAMED_ENTRIES = ("bindings", "providers", "routes", "keys", "prices", "budgets")


def fields(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(info.alias or name for name, info in model.model_fields.items())


def default(model: type[BaseModel], name: str) -> Any:
    value = model.model_fields[name].get_default(call_default_factory=True)
    return tuple(value) if isinstance(value, list) else value


def parse_all(config: dict[str, Any]) -> tuple[Any, ...]:
    root = parse_runtime_config(json.dumps(config))
    gateway, rag, agents, mcp = (root.sections[s] for s in ("gateway", "rag", "agents", "mcp"))
    return (
        root,
        gateway_config.parse_gateway_config(gateway) if gateway is not None else None,
        parse_rag_config(rag) if rag is not None else None,
        parse_agents_config(agents) if agents is not None else None,
        parse_mcp_config(mcp) if mcp is not None else None,
    )


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return planned_config(SECTIONS)


# --- field names: the parsers read exactly the models' fields ------------------------------------


@pytest.mark.parametrize(
    ("parser_keys", "model"),
    [
        (gateway_config.GATEWAY_KEYS, GatewaySpec),
        (gateway_config.PROVIDER_KEYS, spec_apps.ProviderSpec),
        (gateway_config.PRICE_KEYS, spec_apps.ModelPrice),
        (gateway_config.ROUTE_KEYS, spec_apps.RouteSpec),
        (gateway_config.CANDIDATE_KEYS, spec_apps.Candidate),
        (gateway_config.RetryPolicy._fields, spec_apps.RetryPolicy),
        (gateway_config.BreakerPolicy._fields, spec_apps.CircuitBreaker),
        (gateway_config.CachePolicy._fields, spec_apps.CachePolicy),
        (gateway_config.RATE_LIMIT_KEYS, spec_apps.RateLimitPolicy),
        (gateway_config.KEY_KEYS, spec_apps.VirtualKeySpec),
        (gateway_config.BUDGET_KEYS, spec_apps.BudgetSpec),
        (RagConfig._fields, RagSpec),
        (Fusion._fields, spec_apps.RagFusionSpec),
        (MinScore._fields, spec_apps.RagMinScoreSpec),
        (Rerank._fields, spec_apps.RagRerankSpec),
        (RewriteQuery._fields, spec_apps.RagRewriteSpec),
        (McpConfig._fields, McpSpec),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_each_parser_reads_its_models_fields_name_for_name(parser_keys, model) -> None:
    assert sorted(parser_keys) == sorted(fields(model))


@pytest.mark.parametrize(
    "record",
    [
        *(getattr(gateway_config, name) for name in ("Price", "Provider", "Candidate", "RetryPolicy", "BreakerPolicy", "CachePolicy", "Route", "GatewayConfig")),
        VirtualKey,
        RateLimitPolicy,
        RagConfig,
        AgentsConfig,
    ],
    ids=lambda record: record.__name__,
)
def test_parsed_config_records_have_no_defaults_of_their_own(record) -> None:
    """The planner decides every default; a field default on the Worker's record would be a second copy."""
    assert record._field_defaults == {}


def test_the_agents_parser_reads_agents_spec_plus_the_planners_own_hosts() -> None:
    shipped = [name for name in fields(AgentsSpec) if name not in DEV_ONLY_FIELDS["agents"]]
    assert sorted(AgentsConfig._fields) == sorted((*shipped, "own_hosts"))


def test_the_worker_section_is_the_worker_spec_fields_the_planner_ships() -> None:
    assert WorkerConfig._fields == WORKER_RUNTIME_FIELDS
    assert set(WORKER_RUNTIME_FIELDS) <= set(WorkerSpec.model_fields)


def test_binding_kinds_and_version_are_the_planners() -> None:
    kinds = {
        cls.kind
        for cls in vars(worker_model).values()
        if isinstance(cls, type) and issubclass(cls, worker_model.WorkerBinding) and "kind" in vars(cls)
    }
    assert kinds == set(BINDING_KINDS)
    assert CONFIG_VERSION == PLANNER_VERSION


# --- defaults: what the planner ships for an unset field is the model's default --------------------


def test_rag_and_agents_parse_to_the_models_defaults(shipped) -> None:
    _, _, rag, agents, _ = parse_all(shipped)
    for name in RagSpec.model_fields:
        if name not in SECTIONS["rag"]:
            expected = default(RagSpec, name)
            if isinstance(expected, BaseModel):  # a nested section: its record holds the same values
                assert getattr(rag, name)._asdict() == expected.model_dump(), name
                continue
            assert getattr(rag, name) == (frozenset(expected) if name == "filter_keys" else expected), name
    for name in AgentsSpec.model_fields:
        if name not in SECTIONS["agents"] and name not in DEV_ONLY_FIELDS["agents"]:
            assert getattr(agents, name) == default(AgentsSpec, name), name


def test_mcp_parses_to_the_models_defaults(shipped) -> None:
    mcp = parse_all(shipped)[4]
    for name in McpSpec.model_fields:
        assert getattr(mcp, name) == default(McpSpec, name), name


def test_gateway_parses_to_the_models_defaults(shipped) -> None:
    _, gateway, _, _, _ = parse_all(shipped)
    for name in ("enabled", "public", "cache_binding", "log_bodies", "ip_hash_salt_secret", "max_body_bytes"):
        assert getattr(gateway, name) == default(GatewaySpec, name), name
    provider, route = gateway.providers["p"], gateway.routes["chat"]
    for name in ("base_url", "timeout_ms", "default_max_tokens"):
        assert getattr(provider, name) == default(spec_apps.ProviderSpec, name), name
    assert provider.prices["m"].cached_input == default(spec_apps.ModelPrice, "cached_input")
    assert route.strategy == default(spec_apps.RouteSpec, "strategy")
    assert route.candidates[0].weight == default(spec_apps.Candidate, "weight")
    for record, model in ((route.retry, spec_apps.RetryPolicy), (route.breaker, spec_apps.CircuitBreaker), (route.cache, spec_apps.CachePolicy)):
        assert record._asdict() == {name: default(model, name) for name in model.model_fields}, model.__name__
    key = gateway.keys_by_hash[key_sha256("k")]
    for name in ("scope", "requests_per_day", "tokens_per_day", "admin", "documents"):
        assert getattr(key, name) == default(spec_apps.VirtualKeySpec, name), name
    assert key.allowed_models == frozenset(default(spec_apps.VirtualKeySpec, "allowed_models"))
    limit = gateway.rate_limit
    assert (limit.key, limit.retry_after_s) == (default(spec_apps.RateLimitPolicy, "key"), default(spec_apps.RateLimitPolicy, "retry_after_s"))


# --- strictness: one missing key, an unknown key, a wrong type ---------------------------------------


def key_paths(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key of the config whose absence is an error (not the entries of NAMED_ENTRIES)."""
    if isinstance(node, dict):
        named = bool(path) and path[-1] in NAMED_ENTRIES
        for key, value in node.items():
            if not named:
                yield (*path, key)
            yield from key_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from key_paths(value, (*path, str(index)))


def _node(config: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        config = config[int(part)] if isinstance(config, list) else config[part]
    return config


def test_the_config_has_every_key_path_the_test_walks(shipped) -> None:
    paths = set(key_paths(shipped))
    assert ("gateway", "routes", "chat", "retry", "max_attempts") in paths
    assert ("gateway", "routes", "chat", "candidates", "0", "weight") in paths
    assert ("gateway", "providers", "p", "prices", "m", "cached_input") in paths
    assert ("agents", "own_hosts") in paths and ("worker", "demo_route") in paths
    assert len(paths) > 80


def test_a_parser_refuses_a_config_missing_any_one_key(shipped) -> None:
    parse_all(shipped)  # complete: parses
    for path in key_paths(shipped):
        broken = copy.deepcopy(shipped)
        del _node(broken, path[:-1])[path[-1]]
        with pytest.raises(ConfigError) as raised:
            parse_all(broken)
        assert f"{path[-1]}: missing" in str(raised.value) or path == ("version",), (path, str(raised.value))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("rag", "surprise"), 1, "rag.surprise: unknown key"),
        (("gateway", "routes", "chat", "retry", "jitter"), True, "gateway.routes.chat.retry.jitter: unknown key"),
        (("agents", "max_turns"), "8", "agents.max_turns: expected an integer"),
        (("rag", "ingest_on_upload"), "no", "rag.ingest_on_upload: expected true or false"),
        (("gateway", "keys", "k", "allowed_models"), "chat", "gateway.keys.k.allowed_models: expected a list of strings"),
        (("worker", "demo_route"), 1, "EDGESTACK_CONFIG.worker.demo_route: expected true or false"),
        (("bindings", "AI"), "brain", "EDGESTACK_CONFIG.bindings.AI: unknown kind 'brain'"),
        (("surprise",), {}, "EDGESTACK_CONFIG.surprise: unknown key"),
    ],
)
def test_a_parser_names_the_key_path_of_an_unknown_key_or_wrong_type(shipped, path, value, message) -> None:
    broken = copy.deepcopy(shipped)
    _node(broken, path[:-1])[path[-1]] = value
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_all(broken)


def test_a_config_of_another_version_is_refused_with_a_clear_reason(shipped) -> None:
    with pytest.raises(ConfigError, match=r"version: 2, but this Worker reads version 1; deploy the Worker and its"):
        parse_all({**shipped, "version": 2})


def test_a_config_of_another_version_answers_503_on_every_route_but_healthz(shipped) -> None:
    from app.config import load_runtime_config

    services = _services(load_runtime_config(json.dumps({**shipped, "version": 2})))
    for path in ("/v1/models", "/demo", "/nope"):
        response = _get(path, services)
        assert response.status == 503, path
        assert json.loads(response.body)["error"]["type"] == "misconfigured"
    assert _get("/healthz", services).status == 200


# --- /demo: only where the stack file asks for it ---------------------------------------------------


def _services(config: Any) -> Services:
    async def no_sleep(_: float) -> None:
        raise AssertionError("no sleep expected")

    return Services(
        build=BuildInfo("t", "t"), config=config, fetch=None, wait_until=lambda w: None, clock=lambda: 0.0, sleep=no_sleep  # type: ignore[arg-type]
    )


def _get(path: str, services: Services) -> Any:
    return asyncio.run(handle(HttpRequest(method="GET", url=f"http://localhost{path}", headers={}), services))


def _shipped_stack_config(path: Path) -> Any:
    planned = plan(load_stack(path), Bundle("entry.py", (), "0" * 64))
    text = next(b.text for b in planned.worker.bindings if b.name == CONFIG_BINDING)
    return parse_runtime_config(text)


SHIPPED_STACKS = [p for p in list_stack_files(REPO / "stacks") if not p.name.startswith("_")]


@pytest.mark.parametrize("path", SHIPPED_STACKS, ids=lambda p: p.stem)
def test_demo_is_served_on_the_local_stack_only(path: Path) -> None:
    response = _get("/demo", _services(_shipped_stack_config(path)))
    if path.name == "local.yaml":
        assert response.status == 200 and json.loads(response.body)["name"] == "world"
    else:
        assert response.status == 404, path


def test_the_shipped_stacks_cover_every_deployable_environment() -> None:
    names = {p.stem for p in SHIPPED_STACKS}
    assert {"local", "dev", "staging", "prod", "acme", "globex"} <= names
