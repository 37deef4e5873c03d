"""Components under `pulumi.runtime.set_mocks`: the exact inputs of every resource kind.

The recording mock monitor (infra/deploy/synth.py) captures each `RegisterResource` request as the
engine would receive it, so these assertions cover the wire names (camelCase), secret markers,
`protect`, `parent` and the dependency set, not only Python-side arguments.
"""

from __future__ import annotations

import base64
import json
import runpy
from pathlib import Path

import pulumi
import pytest
from pulumi_mocks import ACCOUNT, ENTRY_SOURCE, ZONE_ID, fake_bundle, make_plan, synth

from infra.deploy.program import ProgramError, build
from infra.deploy.synth import SECRET, mock_id, run_program

T = {
    "kv": "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
    "d1": "cloudflare:index/d1Database:D1Database",
    "r2": "cloudflare:index/r2Bucket:R2Bucket",
    "queue": "cloudflare:index/queue:Queue",
    "consumer": "cloudflare:index/queueConsumer:QueueConsumer",
    "worker": "cloudflare:index/worker:Worker",
    "version": "cloudflare:index/workerVersion:WorkerVersion",
    "deployment": "cloudflare:index/workersDeployment:WorkersDeployment",
    "script": "cloudflare:index/workersScript:WorkersScript",
    "route": "cloudflare:index/workersRoute:WorkersRoute",
    "domain": "cloudflare:index/workersCustomDomain:WorkersCustomDomain",
    "cron": "cloudflare:index/workersCronTrigger:WorkersCronTrigger",
    "subdomain": "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain",
    "gateway": "cloudflare:index/aiGateway:AiGateway",
}
ROUTE = "shop-route-api-shop-example-v1-cda393"
DOMAIN = "shop-domain-ai-shop-example-d6db7a"
STORAGE = (
    "shop-d1-db",
    "shop-kv-cache",
    "shop-kv-scratch",
    "shop-queue-jobs",
    "shop-queue-outbox",
    "shop-r2-docs",
)
# Created by the dynamic providers (infra/deploy/providers/); the Worker version waits for both.
PROVIDED = ("shop-d1-db--migrations-migrations", "shop-vectorize-vectors-index")


def rid(kind: str, name: str) -> str:
    return mock_id(T[kind], name)


@pytest.fixture(scope="module")
def graph():
    return synth()


def test_storage_resources_exact_inputs_protect_and_parent(graph):
    assert graph.resource("shop-kv-cache").inputs == {"accountId": ACCOUNT, "title": "shop-cache"}
    assert graph.resource("shop-kv-scratch").inputs == {"accountId": ACCOUNT, "title": "shop-scratch"}
    assert graph.resource("shop-d1-db").inputs == {"accountId": ACCOUNT, "name": "shop-db"}
    assert graph.resource("shop-r2-docs").inputs == {
        "accountId": ACCOUNT,
        "location": "weur",
        "name": "shop-docs",
    }
    assert graph.resource("shop-queue-jobs").inputs == {"accountId": ACCOUNT, "queueName": "shop-jobs"}
    assert graph.resource("shop-queue-outbox").inputs == {"accountId": ACCOUNT, "queueName": "shop-outbox"}
    protect = {name: graph.resource(name).protect for name in STORAGE}
    # prod: data resources protected by default; SCRATCH opts out; queues are not data resources.
    assert protect == {
        "shop-d1-db": True,
        "shop-kv-cache": True,
        "shop-kv-scratch": False,
        "shop-queue-jobs": False,
        "shop-queue-outbox": False,
        "shop-r2-docs": True,
    }
    assert {graph.resource(name).parent for name in STORAGE} == {"shop-storage"}
    assert graph.resource("shop-storage").type == "edgestack:index:Storage"


def test_worker_resource_exact_inputs(graph):
    worker = graph.resource("shop-worker")
    assert worker.type == T["worker"]
    assert worker.inputs == {
        "accountId": ACCOUNT,
        "name": "shop-api",
        "observability": {"enabled": True, "headSamplingRate": 0.25},
    }
    assert worker.parent == "shop-app"
    assert graph.resource("shop-app").type == "edgestack:index:Worker"


def expected_bindings(plan) -> list[dict]:
    return [
        {"className": "AgentState", "name": "AGENT", "type": "durable_object_namespace"},
        {"name": "AI", "type": "ai"},
        {"name": "CACHE", "namespaceId": rid("kv", "shop-kv-cache"), "type": "kv_namespace"},
        {"id": rid("d1", "shop-d1-db"), "name": "DB", "type": "d1"},
        {"bucketName": "shop-docs", "name": "DOCS", "type": "r2_bucket"},
        {"name": "EDGESTACK_BUNDLE_VERSION", "text": "6b18ba0c1e13", "type": "plain_text"},
        {"name": "EDGESTACK_CONFIG", "text": planned_text(plan, "EDGESTACK_CONFIG"), "type": "plain_text"},
        {"name": "EDGESTACK_STACK", "text": "test", "type": "plain_text"},
        {"name": "JOBS", "queueName": "shop-jobs", "type": "queue"},
        {
            "name": "LIMITER",
            "namespaceId": "1001",
            "simple": {"limit": 100, "period": 60},
            "type": "ratelimit",
        },
        {"name": "LOG_LEVEL", "text": "info", "type": "plain_text"},
        {"name": "OPENAI_API_KEY", "text": SECRET, "type": "secret_text"},
        {"name": "OUTBOX", "queueName": "shop-outbox", "type": "queue"},
        {"name": "SCRATCH", "namespaceId": rid("kv", "shop-kv-scratch"), "type": "kv_namespace"},
        {"indexName": "shop-vectors", "name": "VECTORS", "type": "vectorize"},
    ]


def planned_text(plan, name: str) -> str:
    """The text the plan gives a plain-text binding: the component's input, passed through as is
    (what the config holds is the planner's, tested in test_planner.py)."""
    return next(b.text for b in plan.bindings if b.name == name)


def expected_modules() -> list[dict]:
    return [
        {
            "contentBase64": base64.b64encode(m.content).decode(),
            "contentSha256": m.content_sha256,
            "contentType": m.content_type,
            "name": m.name,
        }
        for m in fake_bundle().modules
    ]


def test_worker_version_exact_inputs_modules_and_bindings(graph):
    plan = make_plan()
    version = graph.resource("shop-version")
    assert version.inputs == {
        "accountId": ACCOUNT,
        "workerId": rid("worker", "shop-worker"),
        "mainModule": "entry.py",
        "compatibilityDate": "2026-11-01",
        "compatibilityFlags": ["python_workers", "python_workers_20260610", "nodejs_compat"],
        "modules": expected_modules(),
        "bindings": expected_bindings(plan),
        "limits": {"cpuMs": 30000},
        "placement": {"mode": "smart"},
    }
    names = [m["name"] for m in version.inputs["modules"]]
    assert names == [
        "app/core.py",
        "entry.py",
        "python_modules/workers/__init__.py",
        "python_modules/workers/workflows.js",
    ]
    content_types = {m["name"]: m["contentType"] for m in version.inputs["modules"]}
    assert content_types["python_modules/workers/__init__.py"] == "application/octet-stream"
    assert content_types["python_modules/workers/workflows.js"] == "application/javascript+module"
    config = json.loads(next(b["text"] for b in version.inputs["bindings"] if b["name"] == "EDGESTACK_CONFIG"))
    assert (config["rag"]["index_binding"], config["agents"]["state_binding"]) == ("VECTORS", "AGENT")


def test_version_waits_for_storage_and_the_migration_upload(graph):
    version = graph.resource("shop-version")
    assert set(version.depends_on) == {*STORAGE, *PROVIDED, "shop-worker", "shop-do-migration-v1"}


def test_deployment_is_percentage_strategy_with_the_version_at_100(graph):
    deployment = graph.resource("shop-deployment")
    assert deployment.inputs == {
        "accountId": ACCOUNT,
        "scriptName": "shop-api",
        "strategy": "percentage",
        "versions": [{"percentage": 100, "versionId": rid("version", "shop-version")}],
    }
    assert set(deployment.depends_on) == {"shop-version", "shop-worker"}


def test_pending_migration_goes_through_a_full_script_upload(graph):
    script = graph.resource("shop-do-migration-v1")
    inputs = dict(script.inputs)
    files = inputs.pop("files")
    bindings = inputs.pop("bindings")
    assert inputs == {
        "accountId": ACCOUNT,
        "scriptName": "shop-api",
        "mainModule": "entry.py",
        "content": ENTRY_SOURCE.decode(),
        "contentType": "text/x-python",
        "contentSha256": fake_bundle().module("entry.py").content_sha256,
        "compatibilityDate": "2026-11-01",
        "compatibilityFlags": ["python_workers", "python_workers_20260610", "nodejs_compat"],
        "migrations": {"newTag": "v1", "steps": [{"newSqliteClasses": ["AgentState"]}]},
        "limits": {"cpuMs": 30000},
        "placement": {"mode": "smart"},
        "observability": {"enabled": True, "headSamplingRate": 0.25},
    }
    assert files == {
        m["name"]: {k: v for k, v in m.items() if k != "name"}
        for m in expected_modules()
        if m["name"] != "entry.py"
    }
    assert bindings == graph.resource("shop-version").inputs["bindings"]
    assert script.parent == "shop-durable-objects"
    assert graph.resource("shop-durable-objects").parent == "shop-app"
    assert set(script.depends_on) == {*STORAGE, *PROVIDED, "shop-worker"}


def test_routing_resources_exact_inputs(graph):
    assert graph.resource(ROUTE).inputs == {
        "pattern": "api.shop.example/v1/*",
        "script": "shop-api",
        "zoneId": ZONE_ID,
    }
    assert graph.resource(DOMAIN).inputs == {
        "accountId": ACCOUNT,
        "hostname": "ai.shop.example",
        "service": "shop-api",
        "zoneId": ZONE_ID,
    }
    assert graph.resource("shop-crons").inputs == {
        "accountId": ACCOUNT,
        "schedules": [{"cron": "0 3 * * *"}, {"cron": "*/5 * * * *"}],
        "scriptName": "shop-api",
    }
    assert graph.resource("shop-workers-dev").inputs == {
        "accountId": ACCOUNT,
        "enabled": True,
        "previewsEnabled": False,
        "scriptName": "shop-api",
    }
    assert graph.resource("shop-queue-jobs--consumer").inputs == {
        "accountId": ACCOUNT,
        "queueId": rid("queue", "shop-queue-jobs"),
        "scriptName": "shop-api",
        "settings": {"batchSize": 20, "maxWaitTimeMs": 3000},
        "type": "worker",
    }
    assert not any(r.name == "shop-queue-outbox--consumer" for r in graph.resources)  # consume: false
    for name in (ROUTE, DOMAIN, "shop-crons", "shop-workers-dev", "shop-queue-jobs--consumer"):
        resource = graph.resource(name)
        assert resource.parent == "shop-routing"
        assert {"shop-deployment", "shop-worker"} <= set(resource.depends_on)


def test_ai_gateway_exact_inputs(graph):
    assert graph.resource("shop-ai-gateway").inputs == {
        "accountId": ACCOUNT,
        "aiGatewayId": "shop-gw",  # `gw` prefixed with the stack prefix
        "cacheInvalidateOnUpdate": False,
        "cacheTtl": 60,
        "collectLogs": True,
        "rateLimitingInterval": 0,
        "rateLimitingLimit": 0,
        "rateLimitingTechnique": "fixed",
    }
    assert graph.resource("shop-ai-gateway").parent == "shop-ai"


def test_stack_outputs(graph):
    plan = make_plan()
    outputs = dict(graph.outputs)
    ids = outputs.pop("resourceIds")
    assert outputs == {
        "scriptName": "shop-api",
        "urls": ["https://api.shop.example/v1/*", "https://ai.shop.example"],
        "bundleSha256": plan.bundle_sha256,
        "bundleVersion": plan.bundle_sha256[:12],
        "migrationTag": "v1",
        "migrationApplied": True,
        # one version at 100%; stableVersionId is None (not exported) outside a rollout
        "currentVersionId": mock_id("cloudflare:index/workerVersion:WorkerVersion", "shop-version"),
        "split": [
            {"versionId": mock_id("cloudflare:index/workerVersion:WorkerVersion", "shop-version"), "percentage": 100}
        ],
    }
    cloudflare = {
        r.name: mock_id(r.type, r.name) for r in graph.resources if r.type.startswith("cloudflare:")
    }
    assert ids == cloudflare


def test_every_planned_resource_is_synthesized_with_its_plan(graph):
    """The components follow the plan: same names, kinds, protect flags, parents' component types,
    and at least the plan's dependencies. Dynamic kinds (Vectorize, D1 migrations) are created by
    the dynamic providers: a component named as planned, holding one dynamic resource."""
    plan = make_plan()
    by_name = {r.name: r for r in graph.resources}
    dynamic = {p.name for p in plan.resources() if p.kind.dynamic}
    for planned in plan.resources():
        if planned.kind.dynamic:
            component = by_name[planned.name]
            assert component.type.startswith("edgestack:index:")
            children = [r for r in graph.resources if r.parent == planned.name]
            assert len(children) == 1 and children[0].type.startswith("pulumi-python:dynamic/edgestack:")
            assert children[0].protect == planned.protect
            continue
        resource = by_name[planned.name]
        assert resource.type == planned.kind.value
        assert resource.protect == planned.protect
        assert by_name[resource.parent].type == planned.component.value
        assert set(planned.depends_on) - dynamic <= set(resource.depends_on)
    created = {r.name for r in graph.resources if r.type.startswith("cloudflare:")}
    assert created == {p.name for p in plan.resources()} - dynamic


def test_no_migration_pending_means_no_script_upload():
    graph = synth(deployed_tag="v1")
    assert graph.of_type(T["script"]) == []
    assert "shop-do-migration-v1" not in graph.resource("shop-version").depends_on
    assert graph.outputs["migrationTag"] == "v1"
    assert graph.outputs["migrationApplied"] is False


def test_rename_flow_sends_old_tag_and_only_the_new_step():
    overlay = {
        "bindings": {"durable_objects": {"AGENT": {"class_name": "Agent"}}},
        "durable_object_migrations": [
            {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
            {"tag": "v2", "renamed_classes": [{"from": "AgentState", "to": "Agent"}]},
        ],
    }
    graph = synth(overlay, deployed_tag="v1")
    script = graph.resource("shop-do-migration-v2")
    assert script.inputs["migrations"] == {
        "oldTag": "v1",
        "newTag": "v2",
        "steps": [{"renamedClasses": [{"from": "AgentState", "to": "Agent"}]}],
    }
    agent = next(b for b in script.inputs["bindings"] if b["name"] == "AGENT")
    assert agent == {"className": "Agent", "name": "AGENT", "type": "durable_object_namespace"}
    assert graph.outputs["migrationTag"] == "v2"


def test_delete_flow_with_the_binding_removed():
    overlay = {
        "bindings": {"durable_objects": None},
        "agents": None,
        "durable_object_migrations": [
            {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
            {"tag": "v2", "deleted_classes": ["AgentState"]},
        ],
    }
    graph = synth(overlay, deployed_tag="v1")
    script = graph.resource("shop-do-migration-v2")
    assert script.inputs["migrations"] == {
        "oldTag": "v1",
        "newTag": "v2",
        "steps": [{"deletedClasses": ["AgentState"]}],
    }
    assert all(
        b["type"] != "durable_object_namespace" for b in graph.resource("shop-version").inputs["bindings"]
    )


def test_dev_stack_protects_nothing_and_disabled_workers_dev_is_explicit():
    graph = synth({"environment": "dev", "worker": {"workers_dev": False}})
    assert not any(r.protect for r in graph.resources)
    assert graph.resource("shop-workers-dev").inputs["enabled"] is False


def test_optional_sections_are_omitted():
    overlay = {
        "worker": {"routes": [], "custom_domains": [], "crons": [], "cpu_ms": None, "placement": None},
        "ai_gateway": None,
    }
    graph = synth(overlay)
    for kind in ("route", "domain", "cron", "gateway"):
        assert graph.of_type(T[kind]) == []
    version = graph.resource("shop-version").inputs
    assert "limits" not in version and "placement" not in version


def test_missing_secret_config_is_one_clear_error_naming_every_secret():
    plan = make_plan({"worker": {"secrets": ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]}})
    with pytest.raises(ProgramError) as caught:
        run_program("test", lambda: build(plan) and None)
    message = str(caught.value)
    assert "\n" not in message
    assert "OPENAI_API_KEY" in message and "ANTHROPIC_API_KEY" in message
    assert "pulumi config set --secret" in message


def test_synth_is_rerunnable_in_one_process_without_leaking_state():
    first = synth()
    other = synth({"name_prefix": "other"})
    again = synth()
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(again.to_json(), sort_keys=True)
    assert all(r.name.startswith("other-") for r in other.resources)
    assert len(other.resources) == len(first.resources)


# --- the Pulumi entry point (`infra/__main__.py`), as `pulumi up` runs it -----------------------

MAIN = Path(__file__).resolve().parent.parent / "infra" / "__main__.py"


def run_entry_point(stack: str, secrets: dict[str, str], plain: dict[str, str] | None = None):
    secret_config = {f"edgestack:{name}": value for name, value in secrets.items()}
    config = {**secret_config, **{f"edgestack:{k}": v for k, v in (plain or {}).items()}}

    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    return run_program(stack, program, config=config, secret_keys=list(secret_config))


def test_entry_point_maps_a_customer_stack_name_to_its_overlay():
    result = run_entry_point("customer-acme", {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"})
    assert result.resource("acme-worker").inputs["name"] == "acme-api"
    stack_binding = next(
        b for b in result.resource("acme-version").inputs["bindings"] if b["name"] == "EDGESTACK_STACK"
    )
    assert stack_binding["text"] == "customer-acme"


def test_entry_point_reads_the_deployed_migration_tag_from_config():
    secrets = {"OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "y"}
    result = run_entry_point("prod", secrets, {"deployedMigrationTag": "v1"})
    assert result.of_type(T["script"]) == []
    assert result.outputs["migrationTag"] == "v1"


@pytest.mark.parametrize(
    ("stack", "secrets", "expected"),
    [
        ("prod", {}, "worker.secrets: no value for ANTHROPIC_API_KEY, OPENAI_API_KEY"),
        ("nowhere", {}, "unknown stack 'nowhere'"),
    ],
)
def test_entry_point_errors_are_one_line_run_errors(stack, secrets, expected):
    with pytest.raises(pulumi.RunError) as caught:
        run_entry_point(stack, secrets)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
