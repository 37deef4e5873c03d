"""Promote, rollback and mark-stable: the pure core (config changes, pulumi commands, refusals),
and the commands' behaviour without the Pulumi CLI.

The Automation API layer (`infra.release.automation`) needs the Pulumi CLI, which this machine does
not have; the test that would drive it skips and says so. The engine is never faked.
"""

from __future__ import annotations

import json

import pytest

from infra.cli import main
from infra.plan.artifact import write_artifact
from infra.plan.rollout import (
    KnownVersion,
    Rollout,
    RolloutError,
    check_rollout,
    parse_rollout,
    parse_versions,
)
from infra.release import automation
from infra.release.steps import ConfigChange, StackState, plan_mark_stable, plan_promote, plan_rollback
from tests.pulumi_mocks import fake_bundle, make_stack

SHA_A = "a" * 64
SHA_B = "b" * 64


def outputs(*, sha=SHA_A, current="v-old", split=(("v-old", 100),), tag="v1", stable=None, script="shop-api"):
    return {
        "bundleSha256": sha,
        "currentVersionId": current,
        "stableVersionId": stable,
        "split": [{"versionId": v, "percentage": p} for v, p in split],
        "migrationTag": tag,
        "scriptName": script,
    }


STAGING = StackState("staging", outputs(sha=SHA_B, current="s-new"), deployed_migration_tag="v1")
PROD = StackState("prod", outputs(), deployed_migration_tag="v1")


def promote(target: StackState = PROD, percent: int = 10, *, sha: str = SHA_B, tag: str | None = "v1"):
    return plan_promote(
        STAGING, target, artifact_path="/ci/dist/bundle.tar", artifact_sha256=sha, artifact_migration_tag=tag, percent=percent
    )


def test_promote_at_10_percent_splits_against_the_live_version_and_records_it():
    step = promote()
    assert step.changes == (
        ConfigChange("bundle", "/ci/dist/bundle.tar"),
        ConfigChange("bundleSha256", SHA_B),
        ConfigChange("rollout", '{"percent":10,"stableVersionId":"v-old"}'),
        ConfigChange("versions", '[{"id":"v-old","bundleSha256":"' + SHA_A + '","migrationTag":"v1"}]'),
    )
    assert step.commands() == [
        ["pulumi", "config", "set", "--stack", "prod", "edgestack:bundle", "/ci/dist/bundle.tar"],
        ["pulumi", "config", "set", "--stack", "prod", "edgestack:bundleSha256", SHA_B],
        ["pulumi", "config", "set", "--stack", "prod", "edgestack:rollout", '{"percent":10,"stableVersionId":"v-old"}'],
        ["pulumi", "config", "set", "--stack", "prod", "edgestack:versions", step.changes[3].value],
        ["pulumi", "up", "--stack", "prod", "--yes"],
    ]
    assert step.summary == "promote bbbbbbbbbbbb from staging to prod at 10% (stable v-old keeps 90%)"
    assert step.render().splitlines()[3] == (
        "pulumi config set --stack prod edgestack:rollout '{\"percent\":10,\"stableVersionId\":\"v-old\"}'"
    )


def test_promote_records_the_live_migration_tag_when_config_lacks_it():
    target = StackState("prod", outputs())  # edgestack:deployedMigrationTag never set
    step = promote(target)
    assert step.changes[-1] == ConfigChange("deployedMigrationTag", "v1")
    assert step.commands()[-2] == ["pulumi", "config", "set", "--stack", "prod", "edgestack:deployedMigrationTag", "v1"]


def test_promote_mid_rollout_keeps_the_recorded_stable_version():
    versions = (KnownVersion("v-old", SHA_A, "v1"),)
    mid = StackState(
        "prod",
        outputs(current="v-canary", split=(("v-canary", 10), ("v-old", 90)), stable="v-old"),
        versions=versions,
        rollout=Rollout(percent=10, stable_version_id="v-old"),
    )
    step = promote(mid, 100)
    assert ConfigChange("rollout", '{"percent":100,"stableVersionId":"v-old"}') in step.changes
    assert not any(c.key == "versions" for c in step.changes)  # already recorded
    assert step.summary.endswith("to prod at 100%")


def test_promote_to_a_new_stack_at_100_percent_needs_no_stable_version():
    fresh = StackState("prod", {"migrationTag": None})
    step = promote(fresh, 100)
    assert ConfigChange("rollout", '{"percent":100}') in step.changes


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"sha": SHA_A}, f"/ci/dist/bundle.tar: bundle sha256 {SHA_A} is not what staging runs ({SHA_B})"),
        ({"percent": 0}, "percent 0 is outside 1-100"),
        ({"percent": 101}, "percent 101 is outside 1-100"),
        ({"target": StackState("prod", {}), "percent": 10}, "a split at 10% needs a stable version"),
        ({"tag": "v2"}, "a split deployment cannot carry a Durable Object migration (this deploy applies v2)"),
    ],
)
def test_promote_refusals(kwargs, expected):
    with pytest.raises(RolloutError) as exc:
        promote(**kwargs)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_promote_refuses_a_source_that_was_never_deployed():
    with pytest.raises(RolloutError, match="stack staging has no bundleSha256 output: deploy it first"):
        plan_promote(StackState("staging", {}), PROD, artifact_path="x", artifact_sha256=SHA_B,
                     artifact_migration_tag="v1", percent=10)


def test_a_migration_can_be_promoted_at_100_percent():
    step = promote(percent=100, tag="v2")
    assert ConfigChange("rollout", '{"percent":100,"stableVersionId":"v-old"}') in step.changes


# --- rollback ---------------------------------------------------------------------------------------


HISTORY = (KnownVersion("v-1", SHA_A, "v1"), KnownVersion("v-2", SHA_B, "v1"))


def test_rollback_mid_rollout_pins_the_stable_version():
    target = StackState(
        "prod", outputs(current="v-3", split=(("v-3", 10), ("v-2", 90)), stable="v-2"), versions=HISTORY
    )
    step = plan_rollback(target)
    assert step.changes == (ConfigChange("rollout", '{"pinVersionId":"v-2"}'),)
    assert step.commands()[-1] == ["pulumi", "up", "--stack", "prod", "--yes"]
    assert step.summary == "roll prod back to version v-2 (bundle bbbbbbbbbbbb) at 100%"


def test_rollback_at_steady_state_pins_the_previous_recorded_version():
    target = StackState("prod", outputs(current="v-2", split=(("v-2", 100),)), versions=HISTORY)
    assert plan_rollback(target).changes == (ConfigChange("rollout", '{"pinVersionId":"v-1"}'),)
    assert plan_rollback(target, "v-2").changes == (ConfigChange("rollout", '{"pinVersionId":"v-2"}'),)


def test_rollback_refusals():
    target = StackState("prod", outputs(current="v-2", split=(("v-2", 100),)), versions=HISTORY)
    with pytest.raises(RolloutError) as exc:
        plan_rollback(target, "v-9")
    assert str(exc.value) == "version v-9 is not a recorded version of shop-api (edgestack:versions: v-1, v-2)"
    across = StackState("prod", outputs(current="v-2", tag="v2"), versions=HISTORY)
    with pytest.raises(RolloutError, match=r"a rollback to version v-1 crosses a Durable Object migration \(it runs at v1, the script is at v2\)"):
        plan_rollback(across, "v-1")
    with pytest.raises(RolloutError, match="stack prod has no previous version to roll back to"):
        plan_rollback(StackState("prod", outputs(current="v-1"), versions=HISTORY[:1]))


# --- mark-stable --------------------------------------------------------------------------------------


def test_mark_stable_records_the_version_at_100_and_ends_the_rollout():
    target = StackState(
        "prod", outputs(sha=SHA_B, current="v-3", split=(("v-3", 100),), stable="v-2"), versions=HISTORY
    )
    step = plan_mark_stable(target)
    recorded = json.loads(step.changes[0].value or "")
    assert [v["id"] for v in recorded] == ["v-1", "v-2", "v-3"]
    assert recorded[-1] == {"id": "v-3", "bundleSha256": SHA_B, "migrationTag": "v1"}
    assert step.changes[1] == ConfigChange("rollout", None)
    assert step.commands()[1] == ["pulumi", "config", "rm", "--stack", "prod", "edgestack:rollout"]


def test_mark_stable_refuses_to_end_a_rollback_pin():
    target = StackState(
        "prod", outputs(current="v-1", split=(("v-1", 100),)), versions=HISTORY, rollout=Rollout(pin_version_id="v-1")
    )
    with pytest.raises(RolloutError, match="stack prod is rolled back to v-1; ending the pin would deploy edgestack:bundle again"):
        plan_mark_stable(target)


def test_mark_stable_refuses_mid_rollout():
    target = StackState("prod", outputs(current="v-3", split=(("v-3", 10), ("v-2", 90))), versions=HISTORY)
    with pytest.raises(RolloutError, match=r"stack prod is not at one new version at 100% \(v-3 10%, v-2 90%\)"):
        plan_mark_stable(target)


# --- config parsing and the shared refusals (also used by the Pulumi program) ------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "edgestack:rollout: not JSON"),
        ("[]", "edgestack:rollout: expected an object"),
        ('{"percent": 0}', "edgestack:rollout.percent 0 is outside 1-100"),
        ('{"percent": "10"}', "edgestack:rollout.percent '10' is outside 1-100"),
        ('{"percent": 10, "pinVersionId": "x"}', "cannot be combined"),
        ('{"stableVersionId": "x"}', "percent is required"),
        ('{"percent": 10, "colour": "blue"}', "unknown key 'colour'"),
        ('{"pinVersionId": ""}', "edgestack:rollout.pinVersionId: expected a version id"),
    ],
)
def test_bad_rollout_config_is_one_line(text, expected):
    with pytest.raises(RolloutError) as exc:
        parse_rollout(text)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_rollout_and_versions_config_round_trip():
    assert parse_rollout(None) is None
    assert parse_rollout('{"percent":10,"stableVersionId":"v"}') == Rollout(percent=10, stable_version_id="v")
    assert parse_rollout('{"pinVersionId":"v"}') == Rollout(pin_version_id="v")
    assert parse_versions('[{"id":"v","bundleSha256":"x","migrationTag":null}]') == (KnownVersion("v", "x", None),)
    with pytest.raises(RolloutError, match=r"edgestack:versions\[0\]"):
        parse_versions('[{"id": "v"}]')


def test_check_rollout_refuses_a_split_while_a_migration_is_applied():
    with pytest.raises(RolloutError, match="a split deployment cannot carry a Durable Object migration"):
        check_rollout(Rollout(percent=10, stable_version_id="v-1"), HISTORY, script="s",
                      live_migration_tag="v2", migration_pending=True)
    # percent 100 with a pending migration is a plain deploy
    assert check_rollout(Rollout(percent=100, stable_version_id="v-1"), HISTORY, script="s",
                         live_migration_tag="v2", migration_pending=True) == HISTORY[0]


# --- the commands: refusals before anything runs, and no Pulumi CLI here ------------------------------


@pytest.fixture
def artifact_path(tmp_path):
    return write_artifact(make_stack(), "test", fake_bundle(), tmp_path / "dist").path


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["promote", "--from", "staging", "--to", "nope"], "unknown stack 'nope'"),
        (["promote", "--from", "staging", "--to", "prod", "--artifact", "/no/bundle.tar"], "edgestack promote: /no/bundle.tar: artifact not found"),
        (["promote", "--from", "staging", "--to", "prod", "--artifact", "{artifact}"], "the code expects Durable Object migration tag v1"),
        (["rollback", "nope"], "unknown stack 'nope'"),
        (["mark-stable", "nope", "--dry-run"], "unknown stack 'nope'"),
    ],
)
def test_command_refusals_are_one_line_exit_1(capsys, argv, expected, artifact_path, tmp_path):
    if "{artifact}" in argv:  # the test artifact was built for another stack: flags differ from prod's
        expected = "built for compatibility_flags"
    code = main([a.replace("{artifact}", str(artifact_path)) for a in argv])
    captured = capsys.readouterr()
    assert code == 1
    assert expected in captured.err and captured.err.count("\n") == 1
    assert captured.out == ""


@pytest.mark.skipif(automation.pulumi_cli() is not None, reason="the Pulumi CLI is installed")
def test_without_the_pulumi_cli_commands_say_how_to_install_it(capsys, tmp_path):
    assert main(["build", "prod", "-o", str(tmp_path)]) == 0
    capsys.readouterr()
    for argv in (
        ["promote", "--from", "staging", "--to", "prod", "--artifact", str(tmp_path / "bundle.tar"), "--dry-run"],
        ["rollback", "prod"],
        ["mark-stable", "prod"],
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "the Pulumi CLI is not installed" in err and "get.pulumi.com" in err


@pytest.mark.skipif(automation.pulumi_cli() is None, reason="needs the Pulumi CLI (not installed on this machine)")
def test_read_state_of_an_unknown_stack_with_the_cli(tmp_path):
    with pytest.raises(automation.AutomationError, match="unknown Pulumi stack"):
        automation.read_state("edgestack-no-such-stack")


# --- the commands end to end from a saved state file (`--state`), no Pulumi CLI needed for a dry run ---


@pytest.fixture
def prod_artifact(tmp_path, capsys):
    assert main(["build", "prod", "-o", str(tmp_path / "dist")]) == 0
    capsys.readouterr()
    return tmp_path / "dist" / "bundle.tar"


def write_state(tmp_path, staging_sha: str, *, prod_config: dict | None = None):
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            {
                "staging": {"outputs": outputs(sha=staging_sha, current="s-new"), "config": {}},
                "prod": {
                    "outputs": outputs(current="v-old", script="edgestack-prod-api"),
                    "config": prod_config or {"edgestack:deployedMigrationTag": {"value": "v1", "secret": False}},
                },
            }
        )
    )
    return path


def test_promote_dry_run_from_a_state_file_prints_the_exact_commands(tmp_path, capsys, prod_artifact):
    sha = json.loads(prod_artifact.with_name("bundle.manifest.json").read_text())["bundle_sha256"]
    state = write_state(tmp_path, sha)
    argv = ["promote", "--from", "staging", "--to", "prod", "--artifact", str(prod_artifact), "--percent", "10"]
    assert main([*argv, "--dry-run", "--state", str(state)]) == 0
    out = capsys.readouterr().out.splitlines()
    recorded = '[{"id":"v-old","bundleSha256":"' + SHA_A + '","migrationTag":"v1"}]'
    assert out == [
        f"# promote {sha[:12]} from staging to prod at 10% (stable v-old keeps 90%)",
        f"pulumi config set --stack prod edgestack:bundle {prod_artifact.resolve()}",
        f"pulumi config set --stack prod edgestack:bundleSha256 {sha}",
        "pulumi config set --stack prod edgestack:rollout '{\"percent\":10,\"stableVersionId\":\"v-old\"}'",
        f"pulumi config set --stack prod edgestack:versions '{recorded}'",
        "pulumi up --stack prod --yes",
    ]


def test_promote_refuses_an_artifact_staging_does_not_run(tmp_path, capsys, prod_artifact):
    state = write_state(tmp_path, SHA_B)
    argv = ["promote", "--from", "staging", "--to", "prod", "--artifact", str(prod_artifact), "--dry-run"]
    assert main([*argv, "--state", str(state)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"is not what staging runs ({SHA_B}); promote the artifact that was deployed there" in captured.err


@pytest.mark.skipif(automation.pulumi_cli() is not None, reason="the Pulumi CLI is installed")
def test_applying_without_the_cli_stops_after_printing_the_plan(tmp_path, capsys, prod_artifact):
    sha = json.loads(prod_artifact.with_name("bundle.manifest.json").read_text())["bundle_sha256"]
    state = write_state(tmp_path, sha)
    argv = ["promote", "--from", "staging", "--to", "prod", "--artifact", str(prod_artifact), "--state", str(state)]
    assert main(argv) == 1
    assert "the Pulumi CLI is not installed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["rollback", "prod", "--to", "v-nope", "--dry-run"], "edgestack rollback: version v-nope is not a recorded version of edgestack-prod-api"),
        (["mark-stable", "prod", "--dry-run"], ""),
    ],
)
def test_rollback_and_mark_stable_from_a_state_file(tmp_path, capsys, argv, expected):
    state = write_state(tmp_path, SHA_B)
    code = main([*argv, "--state", str(state)])
    captured = capsys.readouterr()
    if expected:
        assert code == 1 and expected in captured.err and captured.err.count("\n") == 1
    else:
        assert code == 0
        assert captured.out.splitlines()[1:] == [
            "pulumi config set --stack prod edgestack:versions "
            "'[{\"id\":\"v-old\",\"bundleSha256\":\"" + SHA_A + "\",\"migrationTag\":\"v1\"}]'",
            "pulumi config rm --stack prod edgestack:rollout",
            "pulumi up --stack prod --yes",
        ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "state.json:1:2: not JSON"),
        ('{"staging": {}}', "state.json: no stack 'prod' with an outputs object"),
        ('{"prod": {"outputs": {}, "config": {"edgestack:rollout": "{"}}}', "edgestack:rollout: not JSON"),
    ],
)
def test_bad_state_file_is_one_line(tmp_path, capsys, text, expected):
    path = tmp_path / "state.json"
    path.write_text(text)
    assert main(["rollback", "prod", "--dry-run", "--state", str(path)]) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_pulumi_cli_missing_has_one_wording_and_release_commands_name_state(monkeypatch, capsys, tmp_path):
    from infra.deploy.pulumi_cli import PULUMI_CLI_MISSING
    from infra.fleet.automation import PulumiCliMissingError

    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi here
    assert main(["build", "prod", "-o", str(tmp_path)]) == 0
    capsys.readouterr()
    argv = ["promote", "--from", "staging", "--to", "prod", "--artifact", str(tmp_path / "bundle.tar"), "--dry-run"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"edgestack promote: {PULUMI_CLI_MISSING}; or pass --state FILE.json") and err.count("\n") == 1
    assert str(PulumiCliMissingError()) == PULUMI_CLI_MISSING  # the fleet says the same
    assert "curl -fsSL https://get.pulumi.com | sh" in PULUMI_CLI_MISSING


@pytest.mark.parametrize("percent", ["0", "101", "ten"])
def test_percent_is_an_integer_from_1_to_100(percent, capsys):
    argv = ["promote", "--from", "staging", "--to", "prod", "--percent", percent, "--dry-run"]
    assert main(argv) == 2
    assert "Invalid value for '--percent'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["check", "dev", "wrangler-config", "init", "promote", "rollback", "mark-stable", "policy"]
)
def test_help_starts_with_what_the_command_does(command, capsys):
    assert main([command, "--help"]) == 0
    first = capsys.readouterr().out.split("\n\n", 2)[1].strip()
    assert first[0].isupper() and not first.startswith(("`", "The ", "Sets ", "Refuses ")), first
