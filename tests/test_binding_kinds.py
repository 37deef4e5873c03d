"""Each planned binding type names its kind (the Worker's word, `EDGESTACK_CONFIG.bindings`) and owns its wrangler.jsonc fragment, local
host entry, banner row and wrangler's printed row; the planner binds every kind."""

from __future__ import annotations

import os
from pathlib import Path

from infra.deploy.wrangler import wrangler_config
from infra.dev.host_config import HOST_SECTIONS, HostInputs, binding_rows, build_host_config
from infra.fleet.wrangler_check import PrintedBinding, expected_bindings
from infra.plan import worker_model
from tests.pulumi_mocks import SHOP_MIGRATIONS, make_plan, make_stack


def _binding_types() -> list[type[worker_model.WorkerBinding]]:
    found = []
    for value in vars(worker_model).values():
        if isinstance(value, type) and issubclass(value, worker_model.WorkerBinding) and "kind" in vars(value):
            found.append(value)
    return found


def test_every_binding_type_is_registered() -> None:
    assert set(worker_model.BINDING_TYPES) == set(_binding_types())


def test_every_binding_type_has_its_kind() -> None:
    kinds = {cls.__name__: cls.kind for cls in _binding_types()}
    assert kinds == {
        "KvBinding": "kv",
        "D1Binding": "d1",
        "R2Binding": "r2",
        "VectorizeBinding": "vectorize",
        "QueueBinding": "queue",
        "DurableObjectBinding": "durable_object",
        "AiBinding": "ai",
        "RateLimitBinding": "rate_limit",
        "PlainTextBinding": "plain_text",
        "SecretTextBinding": "secret",
    }


def test_planned_bindings_carry_the_kind_they_were_declared_under() -> None:
    by_name = {b.name: b.kind for b in make_plan().bindings}
    assert by_name["CACHE"] == "kv"
    assert by_name["DB"] == "d1"
    assert by_name["DOCS"] == "r2"
    assert by_name["VECTORS"] == "vectorize"
    assert by_name["JOBS"] == "queue"
    assert by_name["AGENT"] == "durable_object"
    assert by_name["AI"] == "ai"
    assert by_name["LIMITER"] == "rate_limit"
    assert by_name["LOG_LEVEL"] == "plain_text"
    assert by_name["OPENAI_API_KEY"] == "secret"


def test_wrangler_config_is_each_bindings_fragment_in_wrangler_section_order(tmp_path: Path) -> None:
    config = wrangler_config(make_stack(), make_plan(), worker_src=tmp_path / "worker_src", output_dir=tmp_path)
    assert list(config)[9:] == [
        "vars", "kv_namespaces", "d1_databases", "r2_buckets", "vectorize", "durable_objects",
        "migrations", "ai", "ratelimits", "queues", "triggers", "routes",
    ]  # fmt: skip
    assert config["kv_namespaces"] == [{"binding": "CACHE", "id": "shop-cache"}, {"binding": "SCRATCH", "id": "shop-scratch"}]
    assert config["d1_databases"] == [
        {
            "binding": "DB",
            "database_name": "shop-db",
            "database_id": "shop-db",
            "migrations_dir": os.path.relpath(SHOP_MIGRATIONS, tmp_path),  # relative to the config
        }
    ]
    assert config["durable_objects"] == {"bindings": [{"name": "AGENT", "class_name": "AgentState"}]}
    assert config["ai"] == {"binding": "AI"}
    assert config["ratelimits"] == [{"name": "LIMITER", "namespace_id": "1001", "simple": {"limit": 100, "period": 60}}]
    assert config["queues"] == {
        "producers": [{"binding": "JOBS", "queue": "shop-jobs"}, {"binding": "OUTBOX", "queue": "shop-outbox"}],
        "consumers": [{"queue": "shop-jobs", "max_batch_size": 20, "max_batch_timeout": 3}],  # OUTBOX: consume: false
    }
    assert config["vars"]["LOG_LEVEL"] == "info" and "OPENAI_API_KEY" not in config["vars"]


def test_host_config_and_banner_rows_come_from_the_binding_types() -> None:
    the_plan = make_plan()
    inputs = HostInputs(
        port=1,
        state_dir=Path("/st"),
        bundle_dir=Path("/b"),
        source_label="w/",
        admin_token="t",
        secrets={"OPENAI_API_KEY": "k"},
    )
    host = build_host_config(make_stack(), the_plan, inputs)
    assert list(host.bindings) == list(HOST_SECTIONS)
    assert host.bindings["vectorize"] == [
        {"binding": "VECTORS", "name": "shop-vectors", "dimensions": 384, "metric": "cosine", "metadataIndexes": {"tenant": "string"}}
    ]
    assert host.bindings["queues"][1] == {
        "binding": "OUTBOX", "name": "shop-outbox", "consume": False, "maxBatchSize": 10, "maxBatchTimeoutSeconds": 5,
    }  # fmt: skip
    assert host.bindings["rateLimits"] == [{"binding": "LIMITER", "namespaceId": "1001", "limit": 100, "period": 60}]
    assert '"kv": [' in host.to_json() and '"bindings"' not in host.to_json()  # sections at the top level
    assert binding_rows(the_plan, host) == [
        ("CACHE", "KV namespace", "Miniflare KV 'shop-cache' (/st/kv)"),
        ("SCRATCH", "KV namespace", "Miniflare KV 'shop-scratch' (/st/kv)"),
        ("DB", "D1 database", "Miniflare D1 'shop-db' (/st/d1)"),
        ("DOCS", "R2 bucket", "Miniflare R2 'shop-docs' (/st/r2)"),
        ("AGENT", "Durable Object", "class AgentState, SQLite per object (/st/do)"),
        ("VECTORS", "Vectorize index", "exact search 'shop-vectors', 384d cosine (/st/vectorize)"),
        ("LIMITER", "rate limiter", "in-memory, 100 per 60s per key"),
        ("JOBS", "queue", "local queue 'shop-jobs'"),
        ("OUTBOX", "queue", "local queue 'shop-outbox'"),
        ("AI", "Workers AI", "local"),
        ("OPENAI_API_KEY", "secret", "set"),
    ]


def test_wrangler_prints_every_binding_but_secrets() -> None:
    printed = {b.name: b for b in expected_bindings(make_plan())}
    assert "OPENAI_API_KEY" not in printed
    assert printed["LIMITER"] == PrintedBinding("LIMITER", "Rate Limit", "100 requests/60s")
    assert printed["AI"] == PrintedBinding("AI", "AI", None)
    assert printed["CACHE"] == PrintedBinding("CACHE", "KV Namespace", "shop-cache")
    assert printed["EDGESTACK_CONFIG"].detail is not None and printed["EDGESTACK_CONFIG"].detail.endswith('..."')
    assert len(printed["EDGESTACK_CONFIG"].detail) == 42  # quoted, cut to 37 characters + "..."
