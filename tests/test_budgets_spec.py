"""`gateway.budgets` in the stack file: one-line errors for bad budgets, reference checks, the
unpriced-model warning, and what the planner ships to the Worker (shorthands expanded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cli import main
from infra.plan.bundle import Bundle
from infra.plan.planner import plan
from infra.plan.runtime_config import CONFIG_BINDING
from infra.plan.worker_model import PlainTextBinding
from infra.stackfile.diagnostics import Diagnostic, StackError
from infra.stackfile.extends import apply_overlay
from infra.stackfile.load import load_stack, load_stack_with_sources
from tests.conftest import MALFORMED_DIR, REPO_ROOT

VALID = yaml.safe_load((MALFORMED_DIR / "_parts" / "valid_base.yaml").read_text())
WORKER_SRC = REPO_ROOT / "worker_src"
WITH_COUNTER: dict[str, Any] = {
    "bindings": {"durable_objects": {"BUDGETS": {"class_name": "BudgetCounter"}}},
    "durable_object_migrations": [
        {"tag": "v1", "new_sqlite_classes": ["AgentState"]},
        {"tag": "v2", "new_sqlite_classes": ["BudgetCounter"]},
    ],
    "gateway": {
        "budget_binding": "BUDGETS",
        "keys": {
            "bob": {"sha256": "a" * 64, "scope": "acme", "budget_usd_per_day": 3},
            "eve": {"sha256": "b" * 64, "scope": "globex"},
        },
    },
}


def stack_file(tmp_path: Path, overlay: dict[str, Any]) -> Path:
    doc = apply_overlay(apply_overlay(VALID, WITH_COUNTER), overlay)
    doc["bindings"]["d1"]["DB"]["migrations"] = str(MALFORMED_DIR / "_parts" / "migrations")
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def budget(**fields: Any) -> dict[str, Any]:
    return {"gateway": {"budgets": {"team": {"scope": "tenant", "limit_usd": 10, "window": "day", **fields}}}}


def errors(tmp_path: Path, overlay: dict[str, Any]) -> list[str]:
    with pytest.raises(StackError) as caught:
        load_stack(stack_file(tmp_path, overlay), worker_src=WORKER_SRC)
    return [f"{d.key_path}: {d.message}" for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"limit_usd": -5}, "gateway.budgets.team.limit_usd: must be > 0.0, got -5"),
        ({"limit_usd": 0}, "gateway.budgets.team.limit_usd: must be > 0.0, got 0"),
        ({"window": "week"}, "gateway.budgets.team.window: expected 'day' or 'month', got 'week'"),
        ({"mode": "strict"}, "gateway.budgets.team.mode: expected 'hard' or 'soft', got 'strict'"),
        (
            {"alert_at": [0.5, 1.2], "alert_webhook_url": "https://hooks.example.com/x"},
            "gateway.budgets.team: alert_at values are fractions of the limit, strictly between 0 and 1; got 1.2",
        ),
        ({"alert_at": [0.5]}, "gateway.budgets.team: alert_at needs alert_webhook_url"),
        (
            {"scope": "stack", "match": "acme"},
            "gateway.budgets.team: a stack budget covers the whole stack: remove match",
        ),
        (
            {"scope": "key", "match": "bbo"},
            "gateway.budgets.team.match: no key named 'bbo' (did you mean 'bob'?)",
        ),
        (
            {"match": "acmee"},
            "gateway.budgets.team.match: no tenant (a key's scope) named 'acmee' (did you mean 'acme'?)",
        ),
        (
            {"alert_webhook_url": "https://hooks.example.com/x", "alert_webhook_secret": "HOOK"},
            "gateway.budgets.team.alert_webhook_secret: secret 'HOOK' is not listed in worker.secrets",
        ),
    ],
)
def test_a_bad_budget_is_one_line_naming_the_field(
    tmp_path: Path, fields: dict[str, Any], expected: str
) -> None:
    assert errors(tmp_path, budget(**fields)) == [expected]


def test_a_key_shorthand_needs_the_counter_binding(tmp_path: Path) -> None:
    assert errors(tmp_path, {"gateway": {"budget_binding": None}}) == [
        "gateway.keys: budgets are counted in a Durable Object: set gateway.budget_binding "
        "(a durable_objects binding of class BudgetCounter)"
    ]
    assert errors(tmp_path, {"gateway": {"keys": {"bob": {"budget_usd_per_day": -1}}}}) == [
        "gateway.keys.bob.budget_usd_per_day: must be > 0.0, got -1"
    ]


def test_the_counter_binding_must_be_a_budget_counter(tmp_path: Path) -> None:
    assert errors(tmp_path, {"gateway": {"budget_binding": "AGENT"}}) == [
        "gateway.budget_binding: binding 'AGENT' has class 'AgentState'; budgets need BudgetCounter"
    ]


def test_an_unpriced_model_under_a_hard_budget_is_a_validate_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overlay = {
        "gateway": {"routes": {"chat": {"candidates": [{"provider": "openai", "model": "gpt-unpriced"}]}}}
    }
    path = stack_file(tmp_path, overlay)
    warnings: list[Diagnostic] = []
    load_stack_with_sources(path, worker_src=WORKER_SRC, warnings=warnings)
    assert [f"{d.key_path}: {d.message}" for d in warnings] == [
        "gateway.routes.chat.candidates[0].model: openai/gpt-unpriced has no price: requests that a hard "
        "budget covers are refused (400) while it is a candidate"
    ]
    assert main(["validate", str(path), "--worker-src", str(WORKER_SRC)]) == 0
    out = capsys.readouterr().out
    assert "candidates[0].model: warning: openai/gpt-unpriced has no price" in out


def test_the_worker_reads_every_budget_with_the_shorthands_expanded(tmp_path: Path) -> None:
    stack = load_stack(
        stack_file(tmp_path, budget(alert_at=[0.8], alert_webhook_url="https://h.example.com/")),
        worker_src=WORKER_SRC,
    )
    planned = plan(stack, Bundle("entry.py", (), "0" * 64))
    text = next(
        b.text
        for b in planned.worker.bindings
        if isinstance(b, PlainTextBinding) and b.name == CONFIG_BINDING
    )
    gateway = json.loads(text)["gateway"]
    assert gateway["budget_binding"] == "BUDGETS" and gateway["keys"]["bob"]["budget_usd_per_day"] == 3
    import sys

    sys.path.insert(0, str(WORKER_SRC))
    from app.gateway.config import parse_gateway_config

    parsed = parse_gateway_config(gateway)
    assert [
        (b.name, b.scope, b.match, b.limit_usd, b.window, b.hard, b.alert_at) for b in parsed.budgets
    ] == [
        ("team", "tenant", None, 10.0, "day", True, (0.8,)),
        ("key:bob:day", "key", "bob", 3.0, "day", True, ()),  # the shorthand, named as all_budgets names it
    ]
    assert sorted(stack.gateway.all_budgets()) == sorted(b.name for b in parsed.budgets)  # type: ignore[union-attr]
