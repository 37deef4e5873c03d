"""The pure planner: names, kinds, protect rules, bindings, migrations and its one-line errors."""

from __future__ import annotations

import json

import pytest
from pulumi_mocks import SHOP_MIGRATIONS, ZONE_ID, fake_bundle, make_plan, make_stack

from infra.plan.bundle import BundleError, Module
from infra.plan.do_migrations import MigrationError
from infra.plan.model import D1MigrationsPlan, VectorizeIndexPlan
from infra.plan.planned_resource import Token
from infra.plan.planner import PlanError, plan
from infra.plan.worker_model import (
    AiBinding,
    D1Binding,
    DurableObjectBinding,
    KvBinding,
    PlainTextBinding,
    QueueBinding,
    R2Binding,
    RateLimitBinding,
    SecretTextBinding,
    VectorizeBinding,
)
from infra.stackfile.diagnostics import StackError


def test_logical_and_cloudflare_names_derive_from_prefix_and_binding_slug():
    the_plan = make_plan({"bindings": {"kv": {"FAQ_CACHE": {}}}})
    kv = {p.binding: p for p in the_plan.storage.kv}
    assert kv["FAQ_CACHE"].name == "shop-kv-faq-cache"
    assert kv["FAQ_CACHE"].title == "shop-faq-cache"
    assert the_plan.storage.d1[0].database_name == "shop-db"
    assert the_plan.storage.r2[0].bucket_name == "shop-docs"
    assert the_plan.storage.vectorize[0].index_name == "shop-vectors"
    assert [q.queue_name for q in the_plan.storage.queues] == ["shop-jobs", "shop-outbox"]
    assert the_plan.worker.script.script_name == "shop-api"
    assert (the_plan.worker.script.name, the_plan.worker.version.name, the_plan.worker.deployment.name) == (
        "shop-worker",
        "shop-version",
        "shop-deployment",
    )


def test_explicit_names_win():
    the_plan = make_plan(
        {
            "bindings": {
                "kv": {"CACHE": {"title": "legacy cache"}},
                "d1": {"DB": {"name": "main-db"}},
                "r2": {"DOCS": {"name": "docs-bucket"}},
            }
        }
    )
    assert {p.binding: p.title for p in the_plan.storage.kv}["CACHE"] == "legacy cache"
    assert the_plan.storage.d1[0].database_name == "main-db"
    assert the_plan.storage.r2[0].bucket_name == "docs-bucket"


def test_kinds_are_provider_type_tokens_and_specs_are_marked():
    the_plan = make_plan()
    kinds = {p.name: (p.kind.value, p.kind.dynamic) for p in the_plan.resources()}
    assert kinds["shop-kv-cache"] == ("cloudflare:index/workersKvNamespace:WorkersKvNamespace", False)
    assert kinds["shop-vectorize-vectors"] == ("edgestack:index:VectorizeIndex", True)
    assert kinds["shop-d1-db--migrations"] == ("edgestack:index:D1Migrations", True)
    assert kinds["shop-version"] == ("cloudflare:index/workerVersion:WorkerVersion", False)


def test_vectorize_and_d1_migrations_are_declared_as_specs():
    the_plan = make_plan()
    assert the_plan.storage.vectorize == (
        VectorizeIndexPlan(
            name="shop-vectorize-vectors",
            binding="VECTORS",
            index_name="shop-vectors",
            dimensions=384,
            metric="cosine",
            description="",
            metadata_indexes=(("tenant", "string"),),
            adopt_existing=False,
            protect=True,
        ),
    )
    assert the_plan.storage.d1_migrations == (
        D1MigrationsPlan(
            name="shop-d1-db--migrations",
            binding="DB",
            database="shop-d1-db",
            migrations_dir=str(SHOP_MIGRATIONS),
            depends_on=("shop-d1-db",),
        ),
    )


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ({"environment": "prod"}, True),
        ({"environment": "staging"}, False),
        ({"environment": "dev", "protection": {"data": True}}, True),
        ({"environment": "prod", "protection": {"data": False}}, False),
    ],
)
def test_data_resources_follow_the_stack_protect_default(overlay, expected):
    the_plan = make_plan(overlay)
    data = [
        *the_plan.storage.d1,
        *the_plan.storage.r2,
        *the_plan.storage.vectorize,
        *(k for k in the_plan.storage.kv if k.binding == "CACHE"),
    ]
    assert {p.protect for p in data} == {expected}
    # SCRATCH opts out explicitly; non-data resources are never protected.
    assert next(k for k in the_plan.storage.kv if k.binding == "SCRATCH").protect is False
    assert not any(
        p.protect for p in (*the_plan.storage.queues, the_plan.worker.script, the_plan.worker.version, the_plan.worker.deployment)
    )


def test_explicit_protect_true_in_a_dev_stack():
    the_plan = make_plan({"environment": "dev", "bindings": {"r2": {"DOCS": {"protect": True}}}})
    assert the_plan.storage.r2[0].protect is True
    assert the_plan.storage.d1[0].protect is False


def test_worker_bindings_cover_every_declared_binding_var_secret_and_runtime_value():
    the_plan = make_plan()
    by_name = {b.name: b for b in the_plan.bindings}
    runtime = {name: by_name.pop(name) for name in ("EDGESTACK_CONFIG", "EDGESTACK_BUNDLE_VERSION", "EDGESTACK_STACK")}
    assert by_name == {
        "AGENT": DurableObjectBinding(name="AGENT", class_name="AgentState"),
        "AI": AiBinding(name="AI"),
        "CACHE": KvBinding(name="CACHE", resource="shop-kv-cache", title="shop-cache"),
        "SCRATCH": KvBinding(name="SCRATCH", resource="shop-kv-scratch", title="shop-scratch"),
        "DB": D1Binding(
            name="DB", resource="shop-d1-db", database_name="shop-db", migrations_dir=str(SHOP_MIGRATIONS)
        ),
        "DOCS": R2Binding(name="DOCS", resource="shop-r2-docs", bucket_name="shop-docs"),
        "VECTORS": VectorizeBinding(
            name="VECTORS",
            resource="shop-vectorize-vectors",
            index_name="shop-vectors",
            dimensions=384,
            metric="cosine",
            metadata_indexes=(("tenant", "string"),),
        ),
        "LIMITER": RateLimitBinding(name="LIMITER", namespace_id="1001", limit=100, period=60),
        "JOBS": QueueBinding(
            name="JOBS",
            resource="shop-queue-jobs",
            queue_name="shop-jobs",
            consume=True,
            max_batch_size=20,
            max_batch_timeout_s=3,
        ),
        "OUTBOX": QueueBinding(
            name="OUTBOX",
            resource="shop-queue-outbox",
            queue_name="shop-outbox",
            consume=False,
            max_batch_size=10,
            max_batch_timeout_s=5,
        ),
        "LOG_LEVEL": PlainTextBinding(name="LOG_LEVEL", text="info"),
        "OPENAI_API_KEY": SecretTextBinding(name="OPENAI_API_KEY", config_key="OPENAI_API_KEY"),
    }
    assert all(isinstance(b, PlainTextBinding) for b in runtime.values())
    assert runtime["EDGESTACK_STACK"] == PlainTextBinding(name="EDGESTACK_STACK", text="test")
    assert runtime["EDGESTACK_BUNDLE_VERSION"] == PlainTextBinding(name="EDGESTACK_BUNDLE_VERSION", text="6b18ba0c1e13")
    config = json.loads(runtime["EDGESTACK_CONFIG"].text)  # type: ignore[attr-defined]
    assert config["rag"]["documents_binding"] == "DOCS" and config["agents"]["state_binding"] == "AGENT"
    assert [b.name for b in the_plan.bindings] == [
        "AGENT", "AI", "CACHE", "DB", "DOCS", "EDGESTACK_BUNDLE_VERSION", "EDGESTACK_CONFIG",
        "EDGESTACK_STACK", "JOBS", "LIMITER", "LOG_LEVEL", "OPENAI_API_KEY", "OUTBOX", "SCRATCH", "VECTORS",
    ]


def _shipped_config(the_plan) -> str:
    return next(b.text for b in the_plan.bindings if b.name == "EDGESTACK_CONFIG")


def test_runtime_config_declares_every_binding_by_name_and_kind():
    config = json.loads(_shipped_config(make_plan()))
    assert config["version"] == 1
    assert config["bindings"] == {
        "AGENT": "durable_object",
        "AI": "ai",
        "CACHE": "kv",
        "SCRATCH": "kv",
        "DB": "d1",
        "DOCS": "r2",
        "VECTORS": "vectorize",
        "LIMITER": "rate_limit",
        "JOBS": "queue",
        "OUTBOX": "queue",
        "LOG_LEVEL": "plain_text",
        "OPENAI_API_KEY": "secret",
        "EDGESTACK_CONFIG": "plain_text",
        "EDGESTACK_BUNDLE_VERSION": "plain_text",
        "EDGESTACK_STACK": "plain_text",
    }


def test_runtime_config_names_the_ai_binding_as_the_stack_file_does():
    the_plan = make_plan({"bindings": {"ai": "BRAIN"}})
    assert json.loads(_shipped_config(the_plan))["bindings"]["BRAIN"] == "ai"


def test_runtime_config_sections_are_complete_with_defaults_and_sorted_keys():
    text = _shipped_config(make_plan({"gateway": {"enabled": True, "public": True}}))
    config = json.loads(text)
    assert set(config) == {"version", "bindings", "worker", "gateway", "rag", "agents", "mcp"}
    assert config["mcp"] is None  # no mcp section: null
    assert config["worker"] == {"demo_route": False}
    assert config["gateway"]["max_body_bytes"] == 1_048_576 and config["gateway"]["rate_limit"] is None
    assert config["rag"]["embedding_model"] == "@cf/baai/bge-small-en-v1.5"
    assert config["rag"]["expose_as_model"] is None  # defaults of None are shipped, not left out
    assert text == json.dumps(config, sort_keys=True, separators=(",", ":"))


def test_absent_runtime_sections_are_null():
    config = json.loads(_shipped_config(make_plan({"rag": None, "agents": None})))
    assert (config["rag"], config["agents"]) == (None, None)


def test_demo_route_is_shipped_from_the_worker_section():
    the_plan = make_plan({"worker": {"demo_route": True}})
    assert json.loads(_shipped_config(the_plan))["worker"] == {"demo_route": True}


def test_bundle_version_and_sha_come_from_the_bundle():
    bundle = fake_bundle()
    the_plan = plan(make_stack(), bundle)
    assert the_plan.bundle_sha256 == bundle.sha256
    assert the_plan.bundle_version == bundle.sha256[:12]
    assert the_plan.worker.version.code.modules == bundle.modules
    assert the_plan.stack_name == "shop"  # defaults to name_prefix


def test_pending_migration_adds_the_script_upload_and_forces_the_deployment():
    the_plan = make_plan()
    upload = the_plan.worker.migration_upload
    assert upload is not None and upload.name == "shop-do-migration-v1"
    assert upload.migration.new_tag == "v1" and upload.migration.old_tag is None
    assert upload.code == the_plan.worker.version.code
    assert upload.name in the_plan.worker.version.depends_on
    assert the_plan.worker.deployment.forced_by_migration is True
    assert the_plan.worker.deployment.percentage == 100
    assert the_plan.worker.migration.new_tag == "v1"


def test_no_pending_migration_means_a_plain_versioned_deploy():
    the_plan = make_plan(deployed_tag="v1")
    assert the_plan.worker.migration_upload is None
    assert the_plan.worker.deployment.forced_by_migration is False
    assert not any(p.kind is Token.WORKERS_SCRIPT for p in the_plan.resources())


def test_planning_is_deterministic():
    assert make_plan() == make_plan()


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        (
            {"bindings": {"kv": {"A_B": {"title": "one"}, "A__B": {"title": "two"}}}},
            "bindings.kv.A__B: the derived resource name 'shop-kv-a-b' is already taken",
        ),
        (
            {"bindings": {"kv": {"A_B": {}, "A__B": {}}}},
            "bindings.kv.A__B: title 'shop-a-b' is already used by bindings.kv.A_B",
        ),
        (
            {"bindings": {"r2": {"A_B": {}, "A__B": {"name": "shop-a-b"}}}},
            "bindings.r2.A__B: the derived resource name 'shop-r2-a-b' is already taken",
        ),
        (
            {"bindings": {"r2": {"DOCS": None, "D" * 60: {}}}, "rag": None},
            f"bindings.r2.{'D' * 60}: derived name 'shop-{'d' * 60}' is not a valid Cloudflare name",
        ),
        (
            {"bindings": {"kv": {"CACHE": {"title": "same"}, "SCRATCH": {"title": "same"}}}},
            "bindings.kv.SCRATCH: title 'same' is already used by bindings.kv.CACHE",
        ),
        (
            {"worker": {"vars": {"BIG": "x" * 6000}}},
            "worker.vars.BIG: BIG is 6000 bytes, over Cloudflare's 5120 byte limit",
        ),
    ],
)
def test_bad_input_is_a_one_line_plan_error(overlay, message):
    with pytest.raises(PlanError) as caught:
        make_plan(overlay)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        (
            {"worker": {"vars": {"CACHE": "x"}}},
            "worker.vars.CACHE: 'CACHE' is already declared as bindings.kv.CACHE",
        ),
        (
            {"worker": {"vars": {"EDGESTACK_STACK": "x"}}},
            "worker.vars.EDGESTACK_STACK: names starting with EDGESTACK_ are reserved for edgestack",
        ),
        (
            {"bindings": {"durable_objects": {"AGENT": {"class_name": "Other"}}}},
            "bindings.durable_objects.AGENT.class_name: class 'Other' is not created by any "
            "durable_object_migrations step",
        ),
        (
            {"worker": {"routes": [{"pattern": "x.example/*", "zone": "other"}]}},
            "worker.routes[0].zone: unknown zone 'other' (declared zones: main)",
        ),
        (
            {"bindings": {"queues": {"JOBS": None}}, "rag": {"queue_binding": None, "ingest_on_upload": True}},
            "rag.ingest_on_upload: ingest_on_upload delivers R2 events through a queue",
        ),
    ],
)
def test_facts_known_before_planning_are_refused_by_the_stack_check(overlay, message):
    """Only a checked `Stack` reaches the planner: these are `load_stack`'s refusals (the fixtures go
    through the same check), and the planner keeps no copy of them."""
    with pytest.raises(StackError) as caught:
        make_stack(overlay)
    assert message in str(caught.value)


def test_unknown_deployed_tag_is_reported():
    with pytest.raises(MigrationError, match="'v0'"):
        make_plan(deployed_tag="v0")


def test_bundle_over_the_free_limit_is_rejected_before_anything_else():
    import random

    noise = random.Random(7).randbytes(3 * 1024 * 1024 + 1024)
    bundle = fake_bundle()
    big = type(bundle)(
        bundle.main_module, (*bundle.modules, Module.of("app/blob.py", "text/x-python", noise)), bundle.sha256
    )
    with pytest.raises(BundleError, match=r"^worker bundle: 31[0-9]{5} bytes \(3.00 MiB\) gzip, over the 3 MiB limit of the free plan \(worker.paid_plan: false\)$"):
        plan(make_stack({"worker": {"paid_plan": False}}), big)
    assert plan(make_stack({"worker": {"paid_plan": True}}), big).bundle_sha256 == bundle.sha256


def test_route_and_domain_names_are_unique_for_similar_patterns():
    routes = [
        {"pattern": "api.shop.example/*", "zone": "main"},
        {"pattern": "api.shop.example/", "zone": "main"},
    ]
    the_plan = make_plan({"worker": {"routes": routes}})
    names = [r.name for r in the_plan.routing.routes]
    assert len(set(names)) == 2
    assert all(r.zone_id == ZONE_ID for r in the_plan.routing.routes)
