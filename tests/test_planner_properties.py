"""Property tests of the planner over generated stacks (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi_mocks import ACCOUNT, SHOP_WORKER_SRC, ZONE_ID, fake_bundle

from infra.plan.planned_resource import Token
from infra.plan.planner import plan
from infra.plan.runtime_config import CONFIG_BINDING, STACK_BINDING, VERSION_BINDING
from infra.plan.worker_model import (
    D1Binding,
    KvBinding,
    PlainTextBinding,
    QueueBinding,
    R2Binding,
    ResourceBinding,
    SecretTextBinding,
    VectorizeBinding,
)
from infra.spec import Stack, slug
from infra.stackfile.load import check_stack

BUNDLE = fake_bundle()
NAMES = st.from_regex(r"[A-Z][A-Z0-9]{0,6}(_[A-Z0-9]{1,3}){0,2}", fullmatch=True).filter(
    lambda n: not n.startswith("EDGESTACK")
)
PROTECT = st.sampled_from([None, True, False])
DO_CLASSES = ("AgentState", "Agent", "Other")  # top-level DurableObject classes of SHOP_WORKER_SRC
DATA_KINDS = {
    Token.KV_NAMESPACE: "kv",
    Token.D1_DATABASE: "d1",
    Token.R2_BUCKET: "r2",
    Token.VECTORIZE_INDEX: "vectorize",
}
BINDING_KINDS = {KvBinding: Token.KV_NAMESPACE, D1Binding: Token.D1_DATABASE, R2Binding: Token.R2_BUCKET,
                 VectorizeBinding: Token.VECTORIZE_INDEX, QueueBinding: Token.QUEUE}  # fmt: skip


@st.composite
def stacks(draw) -> tuple[Stack, str | None]:
    names = draw(st.lists(NAMES, min_size=0, max_size=16, unique_by=slug))
    kinds = ["kv", "d1", "r2", "vectorize", "queues", "rate_limits", "durable_objects", "vars", "secrets"]
    groups: dict[str, list[str]] = {kind: [] for kind in kinds}
    for name in names:
        groups[draw(st.sampled_from(kinds))].append(name)
    bindings: dict[str, Any] = {
        "kv": {n: {"protect": draw(PROTECT)} for n in groups["kv"]},
        "d1": {n: {"protect": draw(PROTECT)} for n in groups["d1"]},
        "r2": {n: {"protect": draw(PROTECT)} for n in groups["r2"]},
        "vectorize": {
            n: {"dimensions": draw(st.integers(1, 1536)), "protect": draw(PROTECT)}
            for n in groups["vectorize"]
        },
        "queues": {n: {"consume": draw(st.booleans())} for n in groups["queues"]},
        "rate_limits": {
            n: {
                "namespace_id": i + 1,
                "limit": draw(st.integers(1, 1000)),
                "period": draw(st.sampled_from([10, 60])),
            }
            for i, n in enumerate(groups["rate_limits"])
        },
        "durable_objects": {  # classes the fixture Worker source defines
            n: {"class_name": draw(st.sampled_from(DO_CLASSES))} for n in groups["durable_objects"]
        },
    }
    if draw(st.booleans()):
        bindings["ai"] = "AI_BINDING_X"  # cannot collide: NAMES has at most 3 chars per segment
    classes = sorted({spec["class_name"] for spec in bindings["durable_objects"].values()})
    migrations = [{"tag": f"v{i + 1}", "new_sqlite_classes": [c]} for i, c in enumerate(classes)]
    hosts = draw(st.lists(st.from_regex(r"[a-z]{1,8}\.example", fullmatch=True), max_size=3, unique=True))
    stack = Stack.model_validate(
        {
            "account_id": ACCOUNT,
            "name_prefix": draw(st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True)),
            "environment": draw(st.sampled_from(["local", "dev", "staging", "prod"])),
            "protection": {"data": draw(PROTECT)},
            "zones": {"z": {"id": ZONE_ID}},
            "worker": {
                "name": "api",
                "compatibility_date": "2026-11-01",
                "vars": {n: "v" for n in groups["vars"]},
                "secrets": groups["secrets"],
                "routes": [{"pattern": f"{h}/*", "zone": "z"} for h in hosts],
                "custom_domains": [{"hostname": f"www.{h}", "zone": "z"} for h in hosts],
                "crons": draw(
                    st.lists(st.sampled_from(["0 * * * *", "*/5 * * * *"]), max_size=2, unique=True)
                ),
                "workers_dev": draw(st.booleans()),
            },
            "bindings": bindings,
            "durable_object_migrations": migrations,
        }
    )
    check_stack(stack, worker_src=SHOP_WORKER_SRC)  # only a checked stack reaches the planner
    deployed = draw(st.sampled_from([None, *(m["tag"] for m in migrations)]))
    return stack, deployed


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(stacks())
def test_names_are_unique_prefixed_and_deterministic(case):
    stack, deployed = case
    first = plan(stack, BUNDLE, deployed_migration_tag=deployed)
    assert first == plan(stack, BUNDLE, deployed_migration_tag=deployed)
    names = [r.name for r in first.resources()]
    assert len(names) == len(set(names))
    assert all(name.startswith(f"{stack.name_prefix}-") for name in names)


@PROPERTY
@given(stacks())
def test_every_stack_binding_has_exactly_one_worker_binding(case):
    stack, deployed = case
    the_plan = plan(stack, BUNDLE, deployed_migration_tag=deployed)
    bound = [b.name for b in the_plan.bindings]
    expected = [name for _, name in stack.bindings.names_by_kind()]
    expected += [*stack.worker.vars, *stack.worker.secrets, CONFIG_BINDING, VERSION_BINDING, STACK_BINDING]
    assert sorted(bound) == sorted(expected)
    assert bound == sorted(bound)
    by_name = {b.name: b for b in the_plan.bindings}
    assert {n for n, b in by_name.items() if isinstance(b, SecretTextBinding)} == set(stack.worker.secrets)
    assert all(isinstance(by_name[n], PlainTextBinding) for n in stack.worker.vars)


@PROPERTY
@given(stacks())
def test_resource_bindings_point_at_planned_resources_of_their_kind(case):
    stack, deployed = case
    the_plan = plan(stack, BUNDLE, deployed_migration_tag=deployed)
    kinds = {r.name: r.kind for r in the_plan.resources()}
    for binding in the_plan.bindings:
        if isinstance(binding, ResourceBinding):
            assert kinds[binding.resource] is BINDING_KINDS[type(binding)]


@PROPERTY
@given(stacks())
def test_protect_follows_the_stack_default_and_per_resource_opt_out(case):
    stack, deployed = case
    the_plan = plan(stack, BUNDLE, deployed_migration_tag=deployed)
    for resource in the_plan.resources():
        kind = DATA_KINDS.get(resource.kind)
        if kind is None:
            assert resource.protect is False, resource.name
            continue
        spec = getattr(stack.bindings, kind)[resource.binding]  # type: ignore[attr-defined]
        # The rule, stated from the inputs: the binding's own `protect`, else the stack's
        # `protection.data`, else only prod protects data.
        if spec.protect is not None:
            expected = spec.protect
        elif stack.protection.data is not None:
            expected = stack.protection.data
        else:
            expected = stack.environment == "prod"
        assert resource.protect is expected, resource.name


@PROPERTY
@given(stacks())
def test_dependencies_exist_and_precede_their_dependents(case):
    stack, deployed = case
    the_plan = plan(stack, BUNDLE, deployed_migration_tag=deployed)
    seen: set[str] = set()
    for resource in the_plan.resources():
        assert set(resource.depends_on) <= seen, resource.name
        seen.add(resource.name)


@PROPERTY
@given(stacks())
def test_a_migration_upload_exists_exactly_when_steps_are_pending(case):
    stack, deployed = case
    the_plan = plan(stack, BUNDLE, deployed_migration_tag=deployed)
    tags = [m.tag for m in stack.durable_object_migrations]
    pending = tags[tags.index(deployed) + 1 :] if deployed else tags
    assert (the_plan.worker.migration_upload is not None) == bool(pending)
    assert the_plan.worker.deployment.forced_by_migration == bool(pending)
    assert the_plan.worker.deployment.percentage == 100
    if the_plan.worker.migration_upload is not None:
        assert [s.tag for s in the_plan.worker.migration_upload.migration.steps] == pending
        assert the_plan.worker.migration_upload.name in the_plan.worker.version.depends_on
