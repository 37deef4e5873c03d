"""The Pulumi program's release features under Pulumi's mock runtime: deploying an artifact,
split deployments, rollback pins, refusals (nothing is registered after one) and the outputs.

Deployment inputs follow pulumi-cloudflare v6's `WorkersDeployment` (`strategy: "percentage"`,
`versions: [{version_id, percentage}]`, one or two versions totalling 100;
https://www.pulumi.com/registry/packages/cloudflare/api-docs/workersdeployment/ and Cloudflare's
"Versions & Deployments": a deployment holds one or two versions)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi
import pytest

import infra.deploy.synth
from infra.deploy.synth import mock_id, run_program, synth_plan
from infra.plan.artifact import write_artifact
from infra.plan.bundle import load_bundle
from infra.plan.planner import Release, plan
from infra.plan.rollout import KnownVersion, Rollout, RolloutError
from infra.release.stacks import load_named_stack
from tests.pulumi_mocks import make_plan, make_stack

VERSION_TYPE = "cloudflare:index/workerVersion:WorkerVersion"
DEPLOYMENT_TYPE = "cloudflare:index/workersDeployment:WorkersDeployment"
MAIN = Path(__file__).resolve().parent.parent / "infra" / "__main__.py"
SECRETS = {"edgestack:OPENAI_API_KEY": "x", "edgestack:ANTHROPIC_API_KEY": "y"}
OLD = KnownVersion("0f3c6a2e-old", "c" * 64, "v1")


def synth_release(release: Release, *, deployed_tag: str | None = "v1"):
    return synth_plan(make_plan(deployed_tag=deployed_tag, release=release), deployed_migration_tag=deployed_tag)


def test_split_deployment_sends_the_new_version_its_share_and_the_rest_to_stable():
    result = synth_release(Release(Rollout(percent=10, stable_version_id=OLD.id), (OLD,)))
    new_id = mock_id(VERSION_TYPE, "shop-version")
    deployment = result.resource("shop-deployment")
    assert deployment.inputs == {
        "accountId": "0123456789abcdef0123456789abcdef",
        "scriptName": "shop-api",
        "strategy": "percentage",
        "versions": [{"percentage": 10, "versionId": new_id}, {"percentage": 90, "versionId": OLD.id}],
    }
    assert result.outputs["currentVersionId"] == new_id
    assert result.outputs["stableVersionId"] == OLD.id
    assert result.outputs["split"] == [
        {"percentage": 10, "versionId": new_id},
        {"percentage": 90, "versionId": OLD.id},
    ]


def test_percent_100_completes_the_rollout_with_one_version():
    result = synth_release(Release(Rollout(percent=100, stable_version_id=OLD.id), (OLD,)))
    new_id = mock_id(VERSION_TYPE, "shop-version")
    assert result.resource("shop-deployment").inputs["versions"] == [{"percentage": 100, "versionId": new_id}]
    assert result.outputs["stableVersionId"] == OLD.id  # still the rollback target until mark-stable


def test_rollback_pins_a_recorded_version_and_uploads_nothing():
    result = synth_release(Release(Rollout(pin_version_id=OLD.id), (OLD,)))
    assert result.of_type(VERSION_TYPE) == []
    assert result.of_type("cloudflare:index/workersScript:WorkersScript") == []
    deployment = result.resource("shop-deployment")
    assert deployment.inputs["versions"] == [{"percentage": 100, "versionId": OLD.id}]
    assert deployment.depends_on == ("shop-worker",)
    assert result.outputs["currentVersionId"] == OLD.id
    assert result.outputs["split"] == [{"percentage": 100, "versionId": OLD.id}]
    assert result.outputs["bundleSha256"] == OLD.bundle_sha256
    assert result.outputs["bundleVersion"] == OLD.bundle_sha256[:12]


def test_plain_deploy_is_unchanged_one_version_at_100():
    result = synth_release(Release())
    new_id = mock_id(VERSION_TYPE, "shop-version")
    assert result.resource("shop-deployment").inputs["versions"] == [{"percentage": 100, "versionId": new_id}]
    assert "stableVersionId" not in result.outputs


@pytest.mark.parametrize(
    ("release", "deployed_tag", "expected"),
    [
        (
            Release(Rollout(percent=10, stable_version_id=OLD.id), (OLD,)),
            None,
            "a split deployment cannot carry a Durable Object migration (this deploy applies v1)",
        ),
        (
            Release(Rollout(pin_version_id=OLD.id), (OLD,)),
            None,
            "a rollback cannot carry a Durable Object migration",
        ),
        (
            Release(Rollout(pin_version_id="someone-elses"), (OLD,)),
            "v1",
            "version someone-elses is not a recorded version of shop-api",
        ),
        (
            Release(Rollout(percent=10), ()),
            "v1",
            "a split at 10% needs a stable version (stableVersionId), and there is none",
        ),
        (
            Release(Rollout(pin_version_id="v0-era"), (KnownVersion("v0-era", "d" * 64, None),)),
            "v1",
            "a rollback to version v0-era crosses a Durable Object migration (it runs at none, the script is at v1)",
        ),
    ],
)
def test_planner_refusals(release, deployed_tag, expected):
    with pytest.raises(RolloutError) as exc:
        make_plan(deployed_tag=deployed_tag, release=release)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


# --- the entry point with release config, as `pulumi up` runs it -------------------------------------


@pytest.fixture
def monitors(monkeypatch):
    """Every recording monitor a run creates, to see what was registered before a refusal."""
    created: list[infra.deploy.synth.RecordingMonitor] = []

    class Capturing(infra.deploy.synth.RecordingMonitor):
        def __init__(self, mock):
            super().__init__(mock)
            created.append(self)

    monkeypatch.setattr(infra.deploy.synth, "RecordingMonitor", Capturing)
    return created


def run_entry_point(stack: str, config: dict[str, str]):
    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    return run_program(stack, program, config={**SECRETS, **config}, secret_keys=list(SECRETS))


@pytest.fixture(scope="module")
def prod_artifact(tmp_path_factory):
    named = load_named_stack("prod")
    return write_artifact(named.stack, named.name, load_bundle(), tmp_path_factory.mktemp("dist"))


def test_artifact_round_trip_gives_the_source_builds_module_inputs(prod_artifact):
    from_source = run_entry_point("prod", {"edgestack:deployedMigrationTag": "v1"})
    from_artifact = run_entry_point(
        "prod",
        {
            "edgestack:deployedMigrationTag": "v1",
            "edgestack:bundle": str(prod_artifact.path),
            "edgestack:bundleSha256": prod_artifact.manifest.bundle_sha256,
        },
    )
    source_version = from_source.resource("edgestack-prod-version").inputs
    artifact_version = from_artifact.resource("edgestack-prod-version").inputs
    assert artifact_version["modules"] == source_version["modules"]
    assert artifact_version == source_version
    assert from_artifact.outputs["bundleSha256"] == prod_artifact.manifest.bundle_sha256


def test_entry_point_split_from_config(prod_artifact):
    result = run_entry_point(
        "prod",
        {
            "edgestack:deployedMigrationTag": "v1",
            "edgestack:bundle": str(prod_artifact.path),
            "edgestack:rollout": '{"percent": 10, "stableVersionId": "stable-id"}',
            "edgestack:versions": '[{"id": "stable-id", "bundleSha256": "' + "e" * 64 + '", "migrationTag": "v1"}]',
        },
    )
    versions = result.resource("edgestack-prod-deployment").inputs["versions"]
    assert [v["percentage"] for v in versions] == [10, 90] and versions[1]["versionId"] == "stable-id"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"edgestack:bundle": "/no/such/bundle.tar"}, "/no/such/bundle.tar: artifact not found"),
        ({"edgestack:bundleSha256": "0" * 64}, "edgestack:bundleSha256 is 0000"),
        ({"edgestack:rollout": '{"percent": 150}'}, "edgestack:rollout.percent 150 is outside 1-100"),
        ({"edgestack:rollout": '{"pinVersionId": "nope"}'}, "version nope is not a recorded version of edgestack-prod-api"),
        ({"edgestack:versions": "{"}, "edgestack:versions: not JSON"),
    ],
)
def test_entry_point_refusals_register_nothing(monitors, config, expected):
    with pytest.raises(pulumi.RunError) as caught:
        run_entry_point("prod", {"edgestack:deployedMigrationTag": "v1", **config})
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert [r.type for r in monitors[-1].recording.registrations] == []


def test_entry_point_refuses_a_mismatched_or_foreign_artifact(monitors, prod_artifact, tmp_path):
    with pytest.raises(pulumi.RunError, match="differs from edgestack:bundleSha256"):
        run_entry_point(
            "prod",
            {"edgestack:bundle": str(prod_artifact.path), "edgestack:bundleSha256": "1" * 64},
        )
    assert monitors[-1].recording.registrations == []
    foreign = write_artifact(make_stack(), "test", load_bundle(), tmp_path)  # built for other flags
    with pytest.raises(pulumi.RunError, match="built for compatibility_flags"):
        run_entry_point("prod", {"edgestack:bundle": str(foreign.path)})
    assert monitors[-1].recording.registrations == []


def test_planning_a_stack_file_against_its_own_artifact_matches_a_source_plan(prod_artifact):
    named = load_named_stack("prod")
    source = plan(named.stack, load_bundle(), stack_name="prod", deployed_migration_tag="v1")
    from_artifact = plan(named.stack, prod_artifact.bundle, stack_name="prod", deployed_migration_tag="v1")
    assert from_artifact == source


def test_entry_point_rollback_needs_no_artifact_and_uploads_nothing():
    result = run_entry_point(
        "prod",
        {
            "edgestack:deployedMigrationTag": "v1",
            "edgestack:bundle": "/gone/with/the/last/runner/bundle.tar",
            "edgestack:bundleSha256": "2" * 64,
            "edgestack:rollout": '{"pinVersionId": "stable-id"}',
            "edgestack:versions": '[{"id": "stable-id", "bundleSha256": "' + "e" * 64 + '", "migrationTag": "v1"}]',
        },
    )
    assert result.of_type(VERSION_TYPE) == []
    assert result.resource("edgestack-prod-deployment").inputs["versions"] == [
        {"percentage": 100, "versionId": "stable-id"}
    ]
    assert result.outputs["bundleSha256"] == "e" * 64
