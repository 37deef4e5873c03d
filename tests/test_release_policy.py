"""Release policy rules: each with a stack that breaks it and one that passes, exemptions,
`edgestack policy check`, and the CrossGuard pack run on pulumi-policy's own argument types."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
from typing import Any, get_args

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)

from infra.cli import main
from infra.deploy.synth import SynthResult
from infra.release import crossguard
from infra.release.graph import Graph, GraphResource
from infra.release.policy import (
    RULES,
    PolicyContext,
    Violation,
    _base64_size,
    _gzip_bound,
    check_graph,
    routes_on_declared_zones,
)
from infra.spec import PolicyRuleId
from infra.stackfile.diagnostics import StackError
from infra.stackfile.load import load_stack
from infra.stackfile.project import find_project
from tests.pulumi_mocks import ZONE_ID, fake_bundle, make_stack, merged, synth

TODAY = dt.date(2026, 12, 1)

# The shared test stack (environment: prod) made to pass every rule.
PASSING: dict[str, Any] = {
    "zones": {"main": {"id": ZONE_ID, "domain": "shop.example"}},
    "worker": {"workers_dev": False},
    "bindings": {"kv": {"SCRATCH": {"protect": True}}},
}


def violations(overlay: dict[str, Any] | None = None, *, bundle=None) -> list[Violation]:
    full = merged(PASSING, overlay or {})
    stack = make_stack(full)
    graph = Graph.from_synth(synth(full, bundle=bundle))
    return check_graph(graph, PolicyContext.from_stack("test", stack, today=TODAY))


def by_rule(found: list[Violation], rule_id: str) -> list[Violation]:
    return [v for v in found if v.rule == rule_id]


def incompressible(size: int) -> bytes:
    blocks = [hashlib.sha256(str(i).encode()).digest() for i in range(size // 32 + 1)]
    return b"".join(blocks)[:size]


def test_rule_ids_match_the_stack_file_schema():
    assert [r.id for r in RULES] == list(get_args(PolicyRuleId))


def test_the_passing_stack_passes_every_rule():
    assert violations() == []


# (rule, overlay that breaks it, expected message fragment, resource)
BREAKING = [
    (
        "protect-prod-data",
        {"bindings": {"kv": {"SCRATCH": {"protect": False}}}},
        "shop-kv-scratch (WorkersKvNamespace) holds prod data but is not protected",
        "shop-kv-scratch",
    ),
    (
        "no-plaintext-secrets",
        {"worker": {"vars": {"UPSTREAM": "sk-live-0123456789"}}},
        "shop-version (WorkerVersion) binds UPSTREAM as a plain-text var but it looks like a secret",
        "shop-version",
    ),
    (
        "public-gateway-rate-limit",
        {"gateway": {"public": True}},
        "shop-version (WorkerVersion): gateway.public is true without gateway.rate_limit",
        "shop-version",
    ),
    (
        "prod-observability",
        {"worker": {"observability": {"enabled": False}}},
        "shop-worker (Worker) has observability off in prod",
        "shop-worker",
    ),
    (
        "compatibility-date-age",
        {"policy": {"compatibility_date_max_age_days": 10}},
        "shop-version (WorkerVersion) has compatibility_date 2026-11-01, 30 days old (limit 10",
        "shop-version",
    ),
    (
        "routes-on-declared-zones",
        {"zones": {"main": {"domain": "other.example"}}},
        "shop-route-api-shop-example-v1",
        None,
    ),
    (
        "no-workers-dev-in-prod",
        {"worker": {"workers_dev": True}},
        "shop-workers-dev (WorkersScriptSubdomain) serves the prod Worker on workers.dev",
        "shop-workers-dev",
    ),
    (
        "no-demo-route-in-prod",
        {"worker": {"demo_route": True}},
        "shop-version (WorkerVersion): worker.demo_route serves GET /demo",
        "shop-version",
    ),
]


@pytest.mark.parametrize(("rule_id", "overlay", "message", "resource"), BREAKING, ids=[b[0] for b in BREAKING])
def test_each_rule_has_a_breaking_stack(rule_id, overlay, message, resource):
    found = violations(overlay)
    assert {v.rule for v in found} == {rule_id}
    hits = by_rule(found, rule_id)
    assert any(message in v.message for v in hits), [v.message for v in hits]
    assert all("\n" not in str(v) for v in hits)
    if resource is not None:
        assert [v.resource for v in hits] == [resource]
    rule = next(r for r in RULES if r.id == rule_id)
    assert all(v.severity == rule.severity and v.blocking == (rule.severity == "mandatory") for v in hits)


def test_routes_rule_names_both_the_route_and_the_custom_domain():
    found = violations({"zones": {"main": {"domain": "other.example"}}})
    assert sorted(v.message.split(":", 1)[1].strip() for v in found) == [
        "ai.shop.example is not under zone main (other.example)",
        "api.shop.example is not under zone main (other.example)",
    ]


def test_a_public_gateway_with_a_rate_limit_passes():
    assert violations({"gateway": {"public": True, "rate_limit": {"binding": "LIMITER"}}}) == []


def test_demo_route_is_refused_on_prod_only():
    assert violations({"environment": "staging", "worker": {"demo_route": True}}) == []


def test_gateway_rules_apply_to_prod_only():
    assert violations({"environment": "staging", "gateway": {"public": True}, "worker": {"workers_dev": True}}) == []


def test_route_on_an_undeclared_zone_id():
    route = GraphResource(
        "cloudflare:index/workersRoute:WorkersRoute",
        "shop-route-x",
        {"pattern": "api.shop.example/*", "zoneId": "b" * 32},
        False,
    )
    ctx = PolicyContext.from_stack("test", make_stack(PASSING), today=TODAY)
    [finding] = routes_on_declared_zones(Graph((route,)), ctx)
    assert finding.message == f"shop-route-x (WorkersRoute) is on zone id {'b' * 32}, not declared under zones"


def test_bundle_size_margin_breaks_near_the_free_plan_limit():
    big = fake_bundle(app=incompressible(40_000))
    overlay = {"worker": {"paid_plan": False}, "policy": {"bundle_size_margin": 0.99}}
    [violation] = violations(overlay, bundle=big)
    assert violation.rule == "bundle-size-margin" and violation.resource == "shop-version"
    assert "gzip, within 99% of the 3 MiB limit" in violation.message
    assert violations({"worker": {"paid_plan": True}, "policy": {"bundle_size_margin": 0.99}}, bundle=big) == []
    assert violations({"worker": {"paid_plan": False}}, bundle=big) == []


def test_exemption_keeps_the_finding_visible_but_not_blocking():
    reason = "preview hostname for the mobile team until 2027-01"
    [violation] = violations(
        {"worker": {"workers_dev": True}, "policy": {"exemptions": {"no-workers-dev-in-prod": reason}}}
    )
    assert violation.exemption == reason and not violation.blocking
    assert str(violation).startswith(f"test: exempt ({reason}): no-workers-dev-in-prod: shop-workers-dev")


def test_exemptions_are_validated_in_the_stack_file(tmp_path):
    path = tmp_path / "s.yaml"
    base = (
        'account_id: "0123456789abcdef0123456789abcdef"\nname_prefix: s\n'
        "worker: {name: api, compatibility_date: 2026-11-01}\n"
    )
    path.write_text(base + "policy:\n  exemptions:\n    no-such-rule: because we said so\n")
    with pytest.raises(StackError) as exc:
        load_stack(path)
    assert "policy.exemptions.no-such-rule" in str(exc.value)
    path.write_text(base + "policy:\n  exemptions:\n    protect-prod-data: why\n")
    with pytest.raises(StackError) as exc:
        load_stack(path)
    assert "policy.exemptions.protect-prod-data" in str(exc.value) and "at least 10" in str(exc.value)


# --- `edgestack policy check` -------------------------------------------------------------------


def test_policy_check_passes_on_the_shipped_stacks(capsys):
    assert main(["policy", "check", "prod", "staging", "dev"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "0 blocking" in captured.err and "in 3 stack(s)" in captured.err


def test_policy_check_fails_on_a_breaking_stack_file(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {find_project().stacks_dir / 'prod.yaml'}\nworker:\n  workers_dev: true\n")
    assert main(["policy", "check", str(path)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [
        "bad: mandatory: no-workers-dev-in-prod: edgestack-prod-workers-dev (WorkersScriptSubdomain) serves the "
        "prod Worker on workers.dev (worker.workers_dev: true); exempt it under policy.exemptions if intended"
    ]


def test_policy_check_json_and_rule_list(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {find_project().stacks_dir / 'prod.yaml'}\nworker:\n  workers_dev: true\n")
    assert main(["policy", "check", str(path), "--format", "json"]) == 1
    [violation] = json.loads(capsys.readouterr().out)
    assert violation | {"message": ""} == {
        "rule": "no-workers-dev-in-prod",
        "severity": "mandatory",
        "stack": "bad",
        "resource": "edgestack-prod-workers-dev",
        "message": "",
        "exemption": None,
    }
    assert main(["policy", "check", "--list-rules"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == [r.id for r in RULES]


def test_policy_check_unknown_stack_is_one_line(capsys):
    assert main(["policy", "check", "nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("unknown stack 'nope'") and "\n" not in err


# --- the CrossGuard pack, on pulumi-policy's own types ---------------------------------------------


def policy_resources(result: SynthResult) -> list[PolicyResource]:
    """The synth graph as the policy SDK hands it to a stack validation: pulumi-policy's own
    `PolicyResource`/`PolicyResourceOptions` with engine property names (camelCase), protect and urn
    (pulumi-policy 1.21 `policy.py`; https://www.pulumi.com/docs/iac/crossguard/). The engine itself
    cannot run here (no Pulumi CLI); the rules are the same functions either way."""
    out = []
    for r in result.resources:
        options = PolicyResourceOptions(
            protect=r.protect,
            ignore_changes=[],
            delete_before_replace=None,
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=[],
            parent=None,
        )
        urn = f"urn:pulumi:test::edgestack::{r.type}::{r.name}"
        out.append(PolicyResource(r.type, r.inputs, urn, r.name, options, None, None, [], {}))
    return out


def run_pack(overlay: dict[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    full = merged(PASSING, overlay)
    stack = make_stack(full)
    args = StackValidationArgs(policy_resources(synth(full)))
    reported: dict[str, list[tuple[str, str | None]]] = {}
    for policy in crossguard.policies(today=lambda: TODAY, load=lambda name: stack):
        policy.validate(args, lambda message, urn, _id=policy.name: reported.setdefault(_id, []).append((message, urn)))
    return reported


def test_pack_levels_match_rule_severities():
    levels = {p.name: p.enforcement_level for p in crossguard.policies()}
    assert levels == {
        r.id: EnforcementLevel.MANDATORY if r.severity == "mandatory" else EnforcementLevel.ADVISORY for r in RULES
    }


@pytest.mark.parametrize(("rule_id", "overlay", "message", "resource"), BREAKING, ids=[b[0] for b in BREAKING])
def test_pack_reports_what_policy_check_reports(rule_id, overlay, message, resource):
    reported = run_pack(overlay)
    expected = [v for v in violations(overlay) if v.blocking or v.severity == "advisory"]
    assert set(reported) == {rule_id}
    assert [m for m, _ in reported[rule_id]] == [v.message for v in expected]
    assert all(urn is not None and urn.endswith(f"::{v.resource}") for (_, urn), v in zip(reported[rule_id], expected, strict=True))


def test_pack_reports_nothing_for_a_passing_or_exempted_stack():
    assert run_pack({}) == {}
    reason = "preview hostname for the mobile team until 2027-01"
    assert run_pack({"worker": {"workers_dev": True}, "policy": {"exemptions": {"no-workers-dev-in-prod": reason}}}) == {}


def test_pack_is_not_applicable_to_a_stack_without_an_edgestack_worker():
    args = StackValidationArgs([])
    [policy, *_] = crossguard.policies()
    with pytest.raises(Exception) as exc:  # noqa: B017 (the SDK's private _NotApplicableError)
        policy.validate(args, lambda message, urn: None)
    assert type(exc.value).__name__ == "_NotApplicableError"
    assert exc.value.reason == "no edgestack Worker (EDGESTACK_STACK binding) in this stack"


def test_bundle_size_bounds_are_exact_enough():
    for size in (0, 1, 2, 3, 100, 16_384, 70_000):
        data = incompressible(size)
        assert _base64_size(base64.b64encode(data).decode()) == size
        assert len(gzip.compress(data, mtime=0)) <= _gzip_bound(size)


def test_pack_is_not_applicable_when_the_stack_file_cannot_be_loaded():
    from infra.stackfile.names import resolve_stack_path

    args = StackValidationArgs(policy_resources(synth(PASSING)))

    def load(name: str):
        return load_stack(resolve_stack_path(name))  # "test" names no stack file

    [policy, *_] = crossguard.policies(today=lambda: TODAY, load=load)
    with pytest.raises(Exception) as exc:  # noqa: B017 (the SDK's private _NotApplicableError)
        policy.validate(args, lambda message, urn: None)
    assert exc.value.reason.startswith("stack file for test cannot be loaded: unknown stack 'test'")


def test_the_pack_entry_point_serves_every_rule(monkeypatch):
    """`policy/__main__.py` as `pulumi preview --policy-pack policy` runs it, with PolicyPack's
    gRPC server (which needs the engine to talk to) replaced by a recorder."""
    import runpy

    import pulumi_policy

    served: dict[str, Any] = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: served.update(kwargs))
    runpy.run_path(str(find_project().root / "policy" / "__main__.py"), run_name="__main__")
    assert served["name"] == "edgestack-release"
    assert [p.name for p in served["policies"]] == [r.id for r in RULES]
