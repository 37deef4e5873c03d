"""`edgestack cost`: the price list, traffic profiles, three estimates worked by hand, and `diff --cost`.

The expected figures are written out by hand from the prices in infra/cost/prices.yaml (each
meter's page is named there), never computed with the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cli import main
from infra.cost.estimate import estimate
from infra.cost.prices import price_list
from infra.cost.traffic import TrafficProfile, load_profile
from infra.spec import Stack
from infra.stackfile.diagnostics import StackError
from infra.stackfile.extends import apply_overlay
from tests.conftest import MALFORMED_DIR

VALID = yaml.safe_load((MALFORMED_DIR / "_parts" / "valid_base.yaml").read_text())


def stack(overlay: dict[str, Any] | None = None) -> Stack:
    return Stack.model_validate(apply_overlay(VALID, overlay or {}))


def costs(result: Any) -> dict[str, float]:
    return {line.meter: round(line.cost_usd, 6) for line in result.meters if line.cost_usd}


def test_every_meter_names_its_pricing_page_and_the_list_its_date() -> None:
    prices = price_list()
    assert prices.read_on == "2026-12-08"
    for meter in prices.meters.values():
        assert meter.source.host == "developers.cloudflare.com"
        assert "pricing" in (meter.source.path or "")
    # the two anchors of the platform notes
    assert (prices.meters["workers_requests"].paid_included, prices.meters["workers_requests"].usd) == (
        10_000_000,
        0.30,
    )
    assert (prices.meters["workers_ai_neurons"].usd, prices.meters["workers_ai_neurons"].per) == (
        0.011,
        1_000,
    )


def test_worked_example_1_chat_past_the_included_requests_and_cpu() -> None:
    profile = TrafficProfile.model_validate(
        {
            "chat": {"chat": {"requests": 20_000_000, "input_tokens": 1000, "output_tokens": 250}},
            "cpu_ms": {"chat": 2},
        }
    )
    result = estimate(stack(), profile)
    # requests: (20,000,000 - 10,000,000) x $0.30 / M = $3.00
    # CPU: 20,000,000 x 2 ms = 40,000,000 ms; (40,000,000 - 30,000,000) x $0.02 / M = $0.20
    # D1 usage rows: 20,000,000 written, under the 50,000,000 included
    assert costs(result) == {"workers_requests": 3.00, "workers_cpu_ms": 0.20}
    # tokens: 20,000,000 x 1000 = 20e9 in x $0.15 / M = $3,000; 20,000,000 x 250 = 5e9 out x $0.60 / M = $3,000
    assert [(t.model, t.input_tokens, t.output_tokens, t.cost_usd) for t in result.tokens] == [
        ("gpt-4o-mini", 20e9, 5e9, pytest.approx(6000.0))
    ]
    # + $5.00 Workers Paid
    assert result.total_usd == pytest.approx(6008.20)


def test_worked_example_2_a_cached_route() -> None:
    cached = stack({"gateway": {"routes": {"chat": {"cache": {"enabled": True}}}}})
    profile = TrafficProfile.model_validate(
        {
            "chat": {
                "chat": {
                    "requests": 2_000_000,
                    "input_tokens": 400,
                    "output_tokens": 100,
                    "cache_hit_rate": 0.25,
                }
            }
        }
    )
    result = estimate(cached, profile)
    # CPU (default 9.0 ms): 18,000,000 ms, under 30,000,000; KV reads 2,000,000, under 10,000,000
    # KV writes, one per miss: 1,500,000; (1,500,000 - 1,000,000) x $5.00 / M = $2.50
    assert costs(result) == {"kv_writes": 2.50}
    usage = {line.meter: line.usage for line in result.meters}
    assert (usage["workers_cpu_ms"], usage["kv_reads"], usage["kv_writes"]) == (
        18_000_000,
        2_000_000,
        1_500_000,
    )
    # misses only: 1,500,000 x 400 = 600e6 x $0.15 / M = $90; 1,500,000 x 100 = 150e6 x $0.60 / M = $90
    assert result.tokens_usd == pytest.approx(180.0)
    assert result.total_usd == pytest.approx(187.50)
    assert any("defaults from docs/benchmarks.md" in note for note in result.notes)


def test_worked_example_3_rag_and_agents() -> None:
    profile = TrafficProfile.model_validate(
        {
            "rag": {
                "queries": 1_000_000,
                "query_tokens": 20,
                "answer_input_tokens": 1000,
                "answer_output_tokens": 100,
                "uploads": 10_000,
                "document_bytes": 10_500,  # chunk step 1200 - 150 = 1050: 10 chunks
                "stored_documents": 100_000,
            },
            "agents": {
                "turns": 2_000_000,
                "steps": 2,
                "input_tokens": 0,
                "output_tokens": 0,
                "seconds_per_step": 2,
            },
            "cpu_ms": {"rag_query": 10, "rag_upload_per_chunk": 5, "agent_turn": 20, "agent_extra_step": 10},
        }
    )
    result = estimate(stack(), profile)
    assert costs(result) == {
        # 1,000,000 x 10 + 10,000 x 10 chunks x 5 + 2,000,000 x (20 + 10) = 70,500,000 ms
        # (70,500,000 - 30,000,000) x $0.02 / M = $0.81
        "workers_cpu_ms": 0.81,
        # 1,000,000 queries x 384 = 384,000,000; (384,000,000 - 50,000,000) x $0.040 / M = $13.36
        "vectorize_queried_dimensions": 13.36,
        # 100,000 docs x 10 chunks x 384 = 384,000,000; (384,000,000 - 10,000,000) x $0.040 / M = $14.96
        "vectorize_stored_dimensions": 14.96,
        # (2,000,000 - 1,000,000) x $0.15 / M = $0.15
        "durable_objects_requests": 0.15,
        # 2,000,000 x 2 steps x 2 s x 0.128 GB = 1,024,000 GB-s; (1,024,000 - 400,000) x $12.50 / M = $7.80
        "durable_objects_duration_gb_s": 7.80,
    }
    neurons = next(line for line in result.meters if line.meter == "workers_ai_neurons")
    # 1,000,000 x 20 = 20e6 tokens + 10,000 x 10,500 / 4 = 26.25e6 tokens; 46.25e6 x 1841 / 1e6 = 85,146.25
    assert neurons.usage == pytest.approx(85_146.25) and neurons.cost_usd == 0
    # generation: 1e9 in x $0.15 / M = $150 + 1e8 out x $0.60 / M = $60
    assert result.tokens_usd == pytest.approx(210.0)
    assert result.total_usd == pytest.approx(5 + 0.81 + 13.36 + 14.96 + 0.15 + 7.80 + 210)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "traffic.yaml"
    path.write_text(text)
    return path


def profile_errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(StackError) as caught:
        load_profile(write(tmp_path, text), stack())
    return [str(d) for d in caught.value.diagnostics]


def test_a_profile_naming_an_unknown_route_is_one_positioned_line(tmp_path: Path) -> None:
    errors = profile_errors(tmp_path, "chat:\n  chta: {requests: 1, input_tokens: 1, output_tokens: 1}\n")
    assert errors == [
        f"{tmp_path / 'traffic.yaml'}:2:3: chat.chta: unknown route 'chta' (did you mean 'chat'?) (the stack's routes: chat)"
    ]


def test_negative_numbers_and_unknown_keys_are_one_line_each(tmp_path: Path) -> None:
    errors = profile_errors(
        tmp_path,
        "chat:\n  chat: {requests: -5, input_tokens: 1, output_tokens: 1}\nrag: {queries: 1, quries: 2}\n",
    )
    shown = str(tmp_path / "traffic.yaml")
    assert errors == [
        f"{shown}:2:20: chat.chat.requests: must be >= 0, got -5",
        f"{shown}:3:19: rag.quries: unknown key 'quries' (did you mean 'queries'?)",
    ]


def test_a_profile_for_a_section_the_stack_lacks_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "agents: {turns: 1, input_tokens: 1, output_tokens: 1}\n")
    with pytest.raises(StackError, match=r"traffic.yaml:1:1: agents: the stack has no agents section"):
        load_profile(path, stack({"agents": None}))


def test_cli_json_and_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "prod", "--profile", "docs/examples/traffic.yaml", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_usd"] == pytest.approx(data["platform_usd"] + data["tokens_usd"])
    assert {line["meter"] for line in data["meters"]} >= {
        "workers_requests",
        "kv_reads",
        "vectorize_queried_dimensions",
    }
    bad = write(tmp_path, "chat:\n  nope: {requests: 1, input_tokens: 1, output_tokens: 1}\n")
    assert main(["cost", "prod", "--profile", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "chat.nope: unknown route 'nope'" in err[0]


def test_diff_cost_shows_the_monthly_delta(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = Path("stacks/prod.yaml")
    cheaper = tmp_path / "cheaper.yaml"
    # the same stack with chat-smart served by gpt-4o-mini only: its tokens get cheaper
    cheaper.write_text(
        f"extends: {base.resolve()}\n"
        "gateway:\n  routes:\n    chat-smart:\n      candidates: [{provider: openai, model: gpt-4o-mini}]\n"
    )
    profile = write(
        tmp_path, "chat:\n  chat-smart: {requests: 1_000_000, input_tokens: 1000, output_tokens: 100}\n"
    )
    assert main(["diff", str(base), str(cheaper), "--cost", str(profile), "--format", "json"]) == 0
    cost = json.loads(capsys.readouterr().out)["cost"]
    # before: claude-sonnet-4 1e9 in x $3 / M + 1e8 out x $15 / M = $4,500; after: gpt-4o-mini $150 + $60 = $210
    assert cost["delta_usd"] == pytest.approx(210 - 4500)
    assert main(["diff", "prod", "--against", str(profile), "--cost", str(profile)]) == 1
    assert "--cost compares two stacks" in capsys.readouterr().err


def test_budgets_add_their_counter_requests() -> None:
    budgeted = stack(
        {
            "bindings": {"durable_objects": {"BUDGETS": {"class_name": "BudgetCounter"}}},
            "gateway": {
                "budget_binding": "BUDGETS",
                "budgets": {"cap": {"scope": "stack", "limit_usd": 100, "window": "month"}},
            },
        }
    )
    profile = TrafficProfile.model_validate(
        {"chat": {"chat": {"requests": 1_000_000, "input_tokens": 0, "output_tokens": 0}}, "cpu_ms": {"chat": 0}}
    )
    result = estimate(budgeted, profile)
    # 1,000,000 calls x (reserve + settle) = 2,000,000 object requests; (2,000,000 - 1,000,000) x $0.15 / M
    assert costs(result) == {"durable_objects_requests": 0.15}
    rows = next(line for line in result.meters if line.meter == "durable_objects_rows_written")
    assert rows.usage == 4_000_000 and rows.cost_usd == 0
