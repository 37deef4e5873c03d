"""Cross-reference pass: Durable Object migration flows, bindings, secrets and worker classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.plan.runtime_config import runtime_config_json
from infra.spec.local_admin import LOCAL_ADMIN_KEY_SHA256
from infra.stackfile.crossref import cross_reference_diagnostics
from infra.stackfile.diagnostics import StackError
from infra.stackfile.env_names import config_referenced_names, env_declarations
from infra.stackfile.extends import apply_overlay
from infra.stackfile.load import load_stack, load_stack_with_sources
from infra.stackfile.names import resolve_stack_path
from tests.conftest import FIXTURE_WORKER_SRC, MALFORMED_DIR

VALID = yaml.safe_load((MALFORMED_DIR / "_parts" / "valid_base.yaml").read_text())
WORKER_TWO_CLASSES = """
from workers import DurableObject
import workers


class AgentState(DurableObject):
    pass


class Session(workers.DurableObject):
    pass


def helper():
    class Nested(DurableObject):  # not top level: not exported
        pass
"""


def stack_file(tmp_path: Path, overlay: dict[str, Any]) -> Path:
    doc = apply_overlay(VALID, overlay)
    doc["bindings"]["d1"]["DB"]["migrations"] = str(MALFORMED_DIR / "_parts" / "migrations")
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def worker_src(tmp_path: Path) -> Path:
    folder = tmp_path / "worker_src"
    folder.mkdir()
    (folder / "entry.py").write_text(WORKER_TWO_CLASSES)
    return folder


def messages(tmp_path: Path, overlay: dict[str, Any], worker: Path = FIXTURE_WORKER_SRC) -> list[str]:
    try:
        load_stack(stack_file(tmp_path, overlay), worker_src=worker)
    except StackError as exc:
        return [f"{d.key_path}: {d.message}" for d in exc.diagnostics]
    return []


# --- Durable Object migrations (wrangler semantics) -----------------------------------------------


def test_add_flow(tmp_path: Path, worker_src: Path) -> None:
    overlay = {
        "bindings": {"durable_objects": {"SESSIONS": {"class_name": "Session"}}},
        "durable_object_migrations": [
            {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
            {"tag": "v2", "new_sqlite_classes": ["Session"]},
        ],
    }
    assert messages(tmp_path, overlay, worker_src) == []


def test_rename_flow(tmp_path: Path, worker_src: Path) -> None:
    overlay = {
        "bindings": {"durable_objects": {"AGENT": {"class_name": "Session"}}},
        "durable_object_migrations": [
            {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
            {"tag": "v2", "renamed_classes": [{"from": "AgentState", "to": "Session"}]},
        ],
    }
    assert messages(tmp_path, overlay, worker_src) == []
    # Still binding the old name after the rename is an error.
    overlay["bindings"] = {"durable_objects": {"AGENT": {"class_name": "AgentState"}}}
    assert messages(tmp_path, overlay, worker_src) == [
        "bindings.durable_objects.AGENT.class_name: class 'AgentState' is not created by any "
        "durable_object_migrations step (add a step with new_sqlite_classes: [AgentState])"
    ]


def test_rename_onto_an_existing_class(tmp_path: Path, worker_src: Path) -> None:
    overlay = {
        "durable_object_migrations": [
            {"tag": "v1", "new_sqlite_classes": ["AgentState", "Session"]},
            {"tag": "v2", "renamed_classes": [{"from": "AgentState", "to": "Session"}]},
        ],
    }
    assert messages(tmp_path, overlay, worker_src) == [
        "durable_object_migrations[1].renamed_classes[0].to: renames to 'Session', which already exists"
    ]


def test_delete_flow(tmp_path: Path, worker_src: Path) -> None:
    overlay = {
        "bindings": {"durable_objects": {"AGENT": None}},
        "agents": None,
        "durable_object_migrations": [
            {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
            {"tag": "v2", "deleted_classes": ["AgentState"]},
        ],
    }
    assert messages(tmp_path, overlay, worker_src) == []
    overlay["durable_object_migrations"] = [
        {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
        {"tag": "v2", "deleted_classes": ["Session"]},
    ]
    assert messages(tmp_path, overlay, worker_src) == [
        "durable_object_migrations[1].deleted_classes[0]: deletes class 'Session', which no earlier step created"
    ]


def test_class_created_twice(tmp_path: Path) -> None:
    overlay = {
        "durable_object_migrations": [
            {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
            {"tag": "v2", "new_sqlite_classes": ["AgentState"]},
        ]
    }
    assert messages(tmp_path, overlay) == [
        "durable_object_migrations[1].new_sqlite_classes[0]: class 'AgentState' already exists "
        "(created at durable_object_migrations[0].new_sqlite_classes[0])"
    ]


def test_migrated_class_missing_from_the_worker(tmp_path: Path, at_repo_root: Path) -> None:
    overlay = {"durable_object_migrations": [{"tag": "v1", "new_sqlite_classes": ["AgentState", "Ghost"]}]}
    assert messages(tmp_path, overlay) == [
        "durable_object_migrations[0].new_sqlite_classes[1]: migrations create class 'Ghost' but "
        "tests/malformed/_parts/worker_src/entry.py does not define it"
    ]


def test_only_top_level_durable_object_subclasses_count(tmp_path: Path, worker_src: Path) -> None:
    overlay = {"bindings": {"durable_objects": {"NESTED": {"class_name": "Nested"}}}}
    [message] = messages(tmp_path, overlay, worker_src)
    assert message.startswith("bindings.durable_objects.NESTED.class_name: class 'Nested' is not defined in ")
    assert message.endswith("(DurableObject classes there: AgentState, Session)")


def test_worker_entry_that_does_not_parse(tmp_path: Path) -> None:
    broken = tmp_path / "broken_src"
    broken.mkdir()
    (broken / "entry.py").write_text("class AgentState(DurableObject:\n    pass\n")
    [message] = messages(tmp_path, {}, broken)
    assert message.startswith("bindings.durable_objects.AGENT.class_name: cannot check class 'AgentState': ")
    assert "entry.py: syntax error" in message


def test_missing_worker_entry(tmp_path: Path) -> None:
    [message] = messages(tmp_path, {}, tmp_path / "nowhere")
    assert message.endswith("entry.py: Worker entry module not found")


# --- runtime sections -----------------------------------------------------------------------------


def test_gateway_problems_are_all_reported(tmp_path: Path) -> None:
    overlay = {
        "bindings": {"ai": None},
        "gateway": {
            "ip_hash_salt_secret": "IP_SALT",
            "providers": {
                "anthropic": {"kind": "anthropic"},
                "local": {"kind": "openai-compatible"},
                "wai": {"kind": "workers-ai"},
            },
            "routes": {
                "cheap": {"strategy": "cheapest", "candidates": [{"provider": "openai", "model": "gpt-5"}]}
            },
            "keys": {"k": {"sha256": "0" * 64, "allowed_models": ["chat", "chta"]}},
        },
    }
    assert sorted(messages(tmp_path, overlay)) == sorted(
        [
            "rag: rag embeds with Workers AI: declare the binding (bindings.ai: AI)",
            "gateway.ip_hash_salt_secret: secret 'IP_SALT' is not listed in worker.secrets",
            "gateway.providers.anthropic: anthropic providers need api_key_secret (a worker secret name)",
            "gateway.providers.local: openai-compatible providers need base_url",
            "gateway.providers.wai: workers-ai providers need the Workers AI binding (bindings.ai: AI)",
            "gateway.routes.cheap.candidates[0].model: strategy 'cheapest' needs a price for 'gpt-5' "
            "under gateway.providers.openai.prices",
            "gateway.keys.k.allowed_models[1]: unknown model alias 'chta' (did you mean 'chat'?)",
        ]
    )


def test_local_echo_takes_no_url_or_key_and_needs_no_price(tmp_path: Path) -> None:
    overlay = {
        "gateway": {
            "providers": {
                "echo": {"kind": "local-echo", "base_url": "https://example.com/v1"},
                "echo2": {"kind": "local-echo", "api_key_secret": "OPENAI_API_KEY"},
                "plain": {"kind": "local-echo"},
            },
            "routes": {
                "chat": {"strategy": "cheapest", "candidates": [{"provider": "plain", "model": "echo"}]}
            },
        },
    }
    assert sorted(messages(tmp_path, overlay)) == [
        "gateway.providers.echo.base_url: local-echo providers answer in-process: remove this field",
        "gateway.providers.echo2.api_key_secret: local-echo providers answer in-process: remove this field",
    ]


def test_aliases_need_a_gateway(tmp_path: Path) -> None:
    assert sorted(messages(tmp_path, {"gateway": None})) == [
        "agents.model_alias: unknown model alias 'chat' (no gateway routes are declared)",
        "rag.generation_alias: unknown model alias 'chat' (no gateway routes are declared)",
        "rag: RAG is served under the gateway's /v1 routes and keys: declare an enabled gateway section",
    ]


def test_binding_reference_did_you_mean(tmp_path: Path) -> None:
    assert messages(tmp_path, {"rag": {"documents_binding": "DOC"}}) == [
        "rag.documents_binding: no R2 bucket binding named 'DOC' (did you mean 'DOCS'?)"
    ]


def test_env_declarations_and_config_references() -> None:
    stack = load_stack(resolve_stack_path("prod"))
    names = [(d.kind, d.name) for d in env_declarations(stack)]
    assert names[:3] == [("kv", "CACHE"), ("kv", "FAQ_CACHE"), ("kv", "TOOLS")]
    assert ("secret", "OPENAI_API_KEY") in names and not any(kind == "var" for kind, _ in names)
    assert config_referenced_names(stack) == {
        "CACHE", "DB", "RATE_LIMITER", "DOCS", "VECTORS", "FAQ_CACHE", "AGENT", "TOOLS",
        "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AI", "KEYWORDS", "RAG_INGEST",
    }  # fmt: skip


@pytest.mark.parametrize(
    "name", ["base", "dev", "staging", "prod", "local", "customer-acme", "customer-globex"]
)
def test_shipped_stacks_have_no_cross_reference_problems(name: str) -> None:
    stack, sources = load_stack_with_sources(resolve_stack_path(name), cross_check=False)
    assert cross_reference_diagnostics(stack, sources, Path(__file__).parent.parent / "worker_src") == []


LOCAL_ADMIN = {"sha256": LOCAL_ADMIN_KEY_SHA256, "admin": True, "scope": "public"}
SAMPLE_TOOLS = {"remind_me": {"kind": "schedule", "requires_approval": True}}


def test_the_public_local_admin_key_is_refused_outside_local_stacks(tmp_path: Path) -> None:
    overlay = {"gateway": {"keys": {"local-admin": LOCAL_ADMIN}}}
    assert messages(tmp_path, overlay) == [
        "gateway.keys.local-admin.sha256: this is the hash of the local admin key, whose secret is "
        "public: only an environment: local stack may declare it"
    ]
    assert messages(tmp_path, {**overlay, "environment": "local"}) == []


def test_local_tools_need_a_local_stack_and_a_tools_binding(tmp_path: Path) -> None:
    assert messages(tmp_path, {"agents": {"local_tools": SAMPLE_TOOLS}}) == [
        "agents.local_tools: only an environment: local stack seeds tools (edgestack dev)"
    ]
    local = {"environment": "local", "gateway": {"keys": {"local-admin": LOCAL_ADMIN}}}
    assert messages(tmp_path, {**local, "agents": {"local_tools": SAMPLE_TOOLS}}) == [
        "agents.local_tools: seeding tools needs agents.tools_binding (a KV binding)"
    ]
    with_kv = {**local, "agents": {"local_tools": SAMPLE_TOOLS, "tools_binding": "CACHE"}}
    assert messages(tmp_path, with_kv) == []


def test_local_tools_are_not_shipped_to_the_worker() -> None:
    stack = load_stack(resolve_stack_path("local"))
    assert stack.agents is not None and set(stack.agents.local_tools) == {"search_docs", "remind_me"}
    config = json.loads(runtime_config_json(stack, {}))
    assert "local_tools" not in config["agents"] and config["agents"]["tools_binding"] == "TOOLS"
    assert any(k["sha256"] == LOCAL_ADMIN_KEY_SHA256 for k in config["gateway"]["keys"].values())
def test_embedding_routes_and_the_response_store_are_checked(tmp_path: Path) -> None:
    overlay = {
        "gateway": {
            "providers": {"anthropic": {"kind": "anthropic", "api_key_secret": "OPENAI_API_KEY"}},
            "routes": {
                "embed": {"kind": "embeddings", "candidates": [{"provider": "anthropic", "model": "c"}]}
            },
            "response_store": {"binding": "CACHE"},
        },
    }
    assert sorted(messages(tmp_path, overlay)) == [
        "gateway.response_store.binding: 'CACHE' is declared under bindings.kv; expected one from bindings.d1",
        "gateway.routes.embed.candidates[0].provider: an embeddings route needs an openai, openai-compatible "
        "or workers-ai provider; 'anthropic' is anthropic",
    ]


@pytest.mark.parametrize(
    ("secrets", "tool_secrets", "expected"),
    [
        (["OPENAI_API_KEY", "WEATHER_KEY"], ["WEATHER_KEY"], []),
        (["OPENAI_API_KEY"], ["WEATHER_KEY"], ["agents.tool_secrets[0]: secret 'WEATHER_KEY' is not listed in worker.secrets"]),
        (
            ["OPENAI_API_KEY"],
            ["OPENAI_API_KEY"],
            [
                "agents.tool_secrets[0]: secret 'OPENAI_API_KEY' is gateway.providers.openai.api_key_secret: "
                "a tool may not send the platform's own secrets"
            ],
        ),
    ],
)  # fmt: skip
def test_tool_secrets_are_worker_secrets_and_never_the_platforms_own(
    tmp_path: Path, secrets: list[str], tool_secrets: list[str], expected: list[str]
) -> None:
    overlay = {"worker": {"secrets": secrets}, "agents": {"tool_secrets": tool_secrets}}
    assert messages(tmp_path, overlay) == expected
