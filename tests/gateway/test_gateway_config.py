"""The Worker-side parse of the `gateway` section: shapes, references, key-path errors, per-isolate cache."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from app.config import ConfigError, RuntimeConfig, load_runtime_config
from app.gateway.config import ConfigCache, parse_gateway_config
from harness.planned import REPO, key_sha256, planned_config, runtime_config


def _section(**overrides: object) -> dict:
    section = {
        "public": False,
        "usage_binding": "DB",
        "providers": {
            "p1": {
                "kind": "openai",
                "api_key_secret": "K1",
                "prices": {"m": {"input": 1, "output": 2, "cached_input": 0.5}},
            },
            "p2": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1/"},
        },
        "routes": {
            "chat": {
                "strategy": "weighted",
                "candidates": [
                    {"provider": "p1", "model": "m", "weight": 3},
                    {"provider": "p2", "model": "x"},
                ],
            }
        },
        "keys": {
            "team": {
                "sha256": key_sha256("k"),
                "scope": "acme",
                "allowed_models": ["chat"],
                "requests_per_day": 10,
            }
        },
    }
    section.update(overrides)
    return planned_config({"gateway": section})["gateway"]


def test_parses_the_planner_dump_into_frozen_dataclasses() -> None:
    config = parse_gateway_config(_section())
    provider = config.providers["p1"]
    assert provider.kind == "openai" and provider.api == "openai" and provider.api_key_secret == "K1"
    assert provider.prices["m"].cached_input == 0.5 and provider.default_max_tokens == 4096
    assert config.providers["p2"].base_url == "http://127.0.0.1:9/v1"  # trailing slash dropped
    route = config.routes["chat"]
    assert route.strategy == "weighted" and [c.weight for c in route.candidates] == [3, 1]
    assert route.retry.max_attempts == 3 and route.breaker.failure_threshold == 5 and not route.cache.enabled
    key = config.keys_by_hash[key_sha256("k")]
    assert key.name == "team" and key.scope == "acme" and key.allows("chat") and not key.allows("other")
    with pytest.raises(AttributeError):
        key.scope = "other"  # type: ignore[misc]


def test_the_shipped_base_stack_gateway_section_parses() -> None:
    raw = yaml.safe_load((REPO / "stacks" / "base.yaml").read_text())["gateway"]
    config = parse_gateway_config(planned_config({"gateway": raw})["gateway"])
    assert set(config.routes) >= {"chat-fast", "chat-smart"}
    assert config.routes["chat-fast"].strategy == "cheapest"
    assert config.providers["anthropic"].api == "anthropic"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda s: s["routes"]["chat"]["candidates"][1].update(provider="nope"),
            "gateway.routes.chat.candidates[1].provider: unknown provider 'nope' (known: p1, p2)",
        ),
        (
            lambda s: s["providers"]["p2"].update(base_url=None),
            "gateway.providers.p2.base_url: required for an openai-compatible provider",
        ),
        (
            lambda s: s["keys"]["team"].update(allowed_models=["chat", "ghost"]),
            "gateway.keys.team.allowed_models[1]: unknown model alias 'ghost'",
        ),
        (
            lambda s: s.update(usage_binding=None),
            "gateway.keys.team: daily quotas need gateway.usage_binding (a D1 database)",
        ),
        (
            lambda s: s["providers"]["p1"].update(kind="cohere"),
            "gateway.providers.p1.kind: must be one of openai, anthropic, workers-ai, openai-compatible, local-echo; got 'cohere'",
        ),
        (
            lambda s: s["routes"]["chat"].update(candidates=[]),
            "gateway.routes.chat.candidates: expected a non-empty list",
        ),
        (
            lambda s: s["keys"].update(twin=dict(s["keys"]["team"])),
            "gateway.keys.twin.sha256: same hash as key 'team'",
        ),
        (
            lambda s: s["providers"]["p1"]["prices"]["m"].update(input="cheap"),
            "gateway.providers.p1.prices.m.input: expected a number >= 0",
        ),
        (
            lambda s: s["routes"]["chat"].update(kind="images"),
            "gateway.routes.chat.kind: must be one of chat, embeddings; got 'images'",
        ),
        (
            lambda s: s.update(response_store={"binding": "DB", "ttl_s": 5}),
            "gateway.response_store.ttl_s: must be >= 60",
        ),
        (
            lambda s: s["providers"]["p1"].update(anthropic_betas="all"),
            "gateway.providers.p1.anthropic_betas: expected a list of strings",
        ),
    ],
)
def test_reference_and_shape_errors_name_the_key_path(mutate, message) -> None:
    section = copy.deepcopy(_section())
    mutate(section)
    with pytest.raises(ConfigError) as raised:
        parse_gateway_config(section)
    assert str(raised.value) == message


def _root(gateway: dict[str, Any] | None) -> RuntimeConfig:
    """A parsed root whose gateway section is `gateway` (the rest as the planner ships it)."""
    return runtime_config({**planned_config({}), "gateway": gateway})


def test_config_cache_parses_once_per_isolate() -> None:
    cache = ConfigCache()
    root = _root(_section())
    first = cache.get(root)
    assert cache.get(root) is first  # identity fast path
    assert cache.get(_root(copy.deepcopy(_section()))) is first  # equal content: no re-parse
    changed = copy.deepcopy(_section())
    changed["public"] = True
    second = cache.get(_root(changed))
    assert second is not first and second.public


def test_config_cache_remembers_a_bad_section_and_recovers() -> None:
    cache = ConfigCache()
    bad = copy.deepcopy(_section())
    bad["routes"]["chat"]["candidates"][0]["provider"] = "ghost"
    for _ in range(2):
        with pytest.raises(ConfigError, match="unknown provider 'ghost'"):
            cache.get(_root(bad))
    assert cache.get(_root(_section())).routes["chat"]
    assert cache.get(_root(None)) is None


def test_a_config_of_another_version_is_refused_by_every_section() -> None:
    root = load_runtime_config(json.dumps({**planned_config({"gateway": {}}), "version": 2}))
    assert root.error is not None and "version: 2, but this Worker reads version 1" in root.error
    with pytest.raises(ConfigError, match="version: 2"):
        ConfigCache().get(root)
