"""`edgestack fleet synth|matrix|preview|up|refresh|destroy`: the command layer, with the scheduler's
runner injected where the Automation API would run (no engine is faked); the Pulumi-backed path runs
only where the Pulumi CLI is installed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from infra.fleet.automation import Operation, step_text
from infra.fleet.commands import fleet_run
from infra.fleet.scheduler import ProgressFn
from infra.spec import Stack, slug
from infra.stackfile.load import load_stack
from tests.fleet.conftest import CliRun


def protected_count(stack: Stack) -> int:
    b = stack.bindings
    return len(b.kv) + len(b.d1) + len(b.r2) + 2 * len(b.vectorize)


def test_synth_summarises_every_customer_in_one_process(cli: CliRun) -> None:
    import pickle

    batch_setitems = pickle._Pickler.__dict__["_batch_setitems"]  # type: ignore[attr-defined]
    code, out, err = cli("fleet", "synth", "--format", "json")
    # Pulumi's dynamic-provider pickling wraps this once per resource; fleet synth undoes it per stack
    # (see infra.fleet.summary.pickler_restored), or ~500 customers hit the recursion limit.
    assert pickle._Pickler.__dict__["_batch_setitems"] is batch_setitems  # type: ignore[attr-defined]
    assert (code, err) == (0, [])
    rows = {row["customer"]: row for row in json.loads("\n".join(out))}
    assert sorted(rows) == ["acme", "globex"]
    acme, globex = rows["acme"], rows["globex"]
    assert acme["stack"] == "customer-acme"
    # acme is the template as-is (prod): every KV, D1, R2 and Vectorize binding is protected, and the
    # Vectorize index registers twice (its component and the provider resource).
    acme_stack, globex_stack = (load_stack(Path(f"stacks/customers/{n}.yaml")) for n in ("acme", "globex"))
    assert (acme["protected"], globex["protected"]) == (protected_count(acme_stack), protected_count(globex_stack))
    assert globex["protected"] == acme["protected"] - 1  # no TOOLS namespace
    assert (acme["pending_do_migrations"], acme["differs_from_template"]) == (1, False)
    folders = {spec.migrations for spec in acme_stack.bindings.d1.values() if spec.migrations}
    assert acme["pending_d1_migrations"] == sum(len(list(Path(f).glob("*.sql"))) for f in folders)
    assert globex["resources"] == acme["resources"] - 1
    assert "bindings.vectorize" in globex["template_drift"] and "agents" in globex["template_drift"]
    assert acme["bundle_sha256"] == globex["bundle_sha256"] and len(acme["bundle_sha256"]) == 64
    code, out, _ = cli("fleet", "synth", "--only", "acme")
    assert out[0].split() == ["CUSTOMER", "RESOURCES", "PROTECTED", "D1", "MIGR", "DO", "MIGR", "BUNDLE",
                              "DIFFERS", "FROM", "TEMPLATE"]  # fmt: skip
    assert out[1].split()[0] == "acme" and out[1].endswith("  no") and len(out) == 2


def test_matrix_is_github_actions_json(cli: CliRun) -> None:
    code, out, _ = cli("fleet", "matrix", "--shards", "4")
    assert code == 0
    matrix = json.loads(out[0])
    assert [(s["shard"], s["customers"]) for s in matrix["include"]] == [(1, "acme"), (2, "globex")]
    assert cli("fleet", "matrix", "--shards", "0") == (
        1,
        [],
        ["edgestack fleet matrix: --shards must be at least 1, got 0"],
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["up", "--only", "acme,nope"],
            "edgestack fleet up: --only: unknown customer(s) nope (customers: acme, globex)",
        ),
        (
            ["preview", "--concurrency", "0"],
            "edgestack fleet preview: --concurrency must be at least 1, got 0",
        ),
        (
            ["destroy", "--only", "acme"],
            "edgestack fleet destroy: destroy needs --confirm NAME for each customer; add --confirm acme",
        ),
        (
            ["destroy", "--confirm", "acme"],
            "edgestack fleet destroy: destroy needs --confirm NAME for each customer; add --confirm globex",
        ),
    ],
)
def test_bad_input_is_one_line_and_touches_no_stack(cli: CliRun, args: list[str], message: str) -> None:
    assert cli("fleet", *args) == (1, [], [message])


def test_destroy_refuses_while_data_is_protected(cli: CliRun) -> None:
    bindings = load_stack(Path("stacks/customers/acme.yaml")).bindings
    names = [f"acme-{kind}-{slug(b)}" for kind, section in (("kv", bindings.kv), ("d1", bindings.d1),
             ("r2", bindings.r2), ("vectorize", bindings.vectorize)) for b in section]  # fmt: skip
    code, _, err = cli("fleet", "destroy", "--only", "acme", "--confirm", "acme")
    assert code == 1
    assert err == [
        f"edgestack fleet destroy: customer-acme: {len(names)} data resource(s) are protected ({', '.join(names)}); "
        "to destroy, set `protection: {data: false}` in stacks/customers/acme.yaml, run "
        "`edgestack fleet up --only acme`, then destroy"
    ]


def test_without_the_pulumi_cli_one_line_says_how_to_install_it(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    code, out, err = cli("fleet", "preview")
    assert (code, out, len(err)) == (1, [], 1)
    assert err[0].startswith(
        "edgestack fleet preview: the Pulumi CLI is not installed (or not on PATH): install it"
    )
    assert "https://get.pulumi.com" in err[0]


def test_an_operation_runs_the_selected_customers_and_prints_the_summary(
    stacks: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CI", "true")
    seen: list[str] = []

    def runner(stack: str, progress: ProgressFn) -> Mapping[str, int]:
        seen.append(stack)
        progress("create cloudflare:index/d1Database:D1Database acme-d1-db")
        return {"create": 1}

    code = fleet_run(Operation.UP, only=["customer-acme"], stacks_dir=stacks, runner=runner)
    out = capsys.readouterr().out.splitlines()
    assert (code, seen) == (0, ["customer-acme"])
    assert out[:2] == [
        "customer-acme: up started",
        "customer-acme: create cloudflare:index/d1Database:D1Database acme-d1-db",
    ]
    assert out[2].startswith("[1/1] customer-acme: ok (create 1; ")
    assert out[-1].split()[:4] == ["customer-acme", "succeeded", "create", "1"]


def test_an_overlay_that_breaks_fleet_rules_stops_every_operation(stacks: Path, cli: CliRun) -> None:
    globex = stacks / "customers" / "globex.yaml"
    globex.write_text(globex.read_text().replace("namespace_id: 2002", "namespace_id: 2001"))
    code, out, err = cli("fleet", "up", "--only", "globex")
    assert (code, out) == (1, [])
    assert err[0].startswith("stacks/customers/globex.yaml:")
    assert err[-1] == "edgestack fleet up: the fleet does not validate (1 problem(s)); nothing was run"


def test_engine_events_become_progress_steps() -> None:
    from pulumi.automation import events

    metadata = events.StepEventMetadata(
        op=events.OpType.CREATE,
        urn="urn:pulumi:customer-acme::edgestack::cloudflare:index/d1Database:D1Database::acme-d1-db",
        type="cloudflare:index/d1Database:D1Database",
        provider="",
    )
    done = events.EngineEvent(sequence=1, timestamp=0, res_outputs_event=events.ResOutputsEvent(metadata))
    planned = events.EngineEvent(
        sequence=2, timestamp=0, resource_pre_event=events.ResourcePreEvent(metadata, True)
    )
    started = events.EngineEvent(
        sequence=3, timestamp=0, resource_pre_event=events.ResourcePreEvent(metadata, False)
    )
    assert step_text(done) == "create cloudflare:index/d1Database:D1Database acme-d1-db"
    assert step_text(planned) == step_text(done)
    assert step_text(started) is None


@pytest.mark.skipif(
    shutil.which("pulumi") is None, reason="needs the Pulumi CLI (not installed on this machine)"
)
def test_preview_through_the_automation_api(stacks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only where the CLI exists: a local file backend, the real engine, a preview of one customer."""
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{stacks.parent}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    monkeypatch.setenv("CI", "true")
    assert fleet_run(Operation.PREVIEW, only=["acme"]) in (0, 1)
