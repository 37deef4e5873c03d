"""The Pulumi program: stack file -> `Plan` -> components -> stack outputs.

`main()` is what `pulumi up` runs (`infra/__main__.py`); `build(plan)` is the same program for a
plan made elsewhere (offline synth, tests). Configuration it reads (project namespace `edgestack`):

* `edgestack:<SECRET>` (secret) for every name under `worker.secrets`;
* `edgestack:deployedMigrationTag`, the Durable Object migration tag the live script is at
  (unset: no migration applied yet). See docs/deploy.md.
* `edgestack:bundle` (a release artifact, `edgestack build`) deploys that artifact instead of
  `worker_src/`; `edgestack:bundleSha256` refuses any other bundle digest;
  `edgestack:rollout` / `edgestack:versions` drive split deployments and rollbacks
  (infra/plan/rollout.py, docs/ci.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from infra.deploy.components import AiGateway, D1Migrator, IndexProvisioner, Routing, Storage, Worker
from infra.deploy.components.d1_migrations import apply_d1_migrations
from infra.deploy.components.vectorize import provision_index
from infra.errors import EdgestackError
from infra.plan.artifact import check_against_stack, check_digest, load_artifact
from infra.plan.bundle import Bundle, load_bundle
from infra.plan.model import Plan
from infra.plan.planner import Release, plan
from infra.plan.rollout import (
    BUNDLE_KEY,
    BUNDLE_SHA256_KEY,
    CONFIG_NAMESPACE,
    DEPLOYED_TAG_KEY,
    ROLLOUT_KEY,
    VERSIONS_KEY,
    full_key,
    parse_rollout,
    parse_versions,
)
from infra.spec import Stack
from infra.stackfile.project import find_project


class ProgramError(EdgestackError):
    """A one-line reason the program cannot run (missing configuration)."""




@dataclass(frozen=True)
class Deployed:
    storage: Storage
    worker: Worker
    routing: Routing
    ai_gateway: AiGateway | None


def secret_values(the_plan: Plan) -> dict[str, pulumi.Output[str]]:
    """The value of every secret binding by binding name, from Pulumi secret config; all missing
    ones in one error."""
    config = pulumi.Config(CONFIG_NAMESPACE)
    values: dict[str, pulumi.Output[str]] = {}
    missing: list[str] = []
    for binding in the_plan.secret_bindings:
        value = config.get_secret(binding.config_key)
        if value is None:
            missing.append(binding.config_key)
        else:
            values[binding.name] = value
    if missing:
        commands = "; ".join(f"pulumi config set --secret {name} <value>" for name in missing)
        raise ProgramError(
            f"worker.secrets: no value for {', '.join(missing)} in this stack's config ({commands})"
        )
    return values


def deployed_migration_tag() -> str | None:
    return pulumi.Config(CONFIG_NAMESPACE).get(DEPLOYED_TAG_KEY) or None


def release_config() -> Release:
    """`edgestack:rollout` and `edgestack:versions` (one-line `RolloutError` when malformed)."""
    config = pulumi.Config(CONFIG_NAMESPACE)
    return Release(parse_rollout(config.get(ROLLOUT_KEY)), parse_versions(config.get(VERSIONS_KEY)))


def program_bundle(stack: Stack, stack_name: str, worker_src: Path | None) -> Bundle:
    """The artifact named by `edgestack:bundle` (verified against the stack), else a source build;
    either must have the digest `edgestack:bundleSha256` when that is set."""
    config = pulumi.Config(CONFIG_NAMESPACE)
    artifact_path = config.get(BUNDLE_KEY)
    expected = config.get(BUNDLE_SHA256_KEY)
    if not artifact_path:
        bundle = load_bundle(worker_src)
        if expected and bundle.sha256 != expected:
            raise ProgramError(
                f"{full_key(BUNDLE_SHA256_KEY)} is {expected} but {worker_src or 'worker_src/'} builds {bundle.sha256}; "
                f"set {full_key(BUNDLE_KEY)} to the artifact with that digest"
            )
        return bundle
    path = Path(artifact_path)
    artifact = load_artifact(path if path.is_absolute() else find_project().root / path)
    check_against_stack(artifact, stack, stack_name)
    if expected:
        check_digest(artifact, expected, full_key(BUNDLE_SHA256_KEY))
    return artifact.bundle


def build(
    the_plan: Plan,
    *,
    index_provisioner: IndexProvisioner = provision_index,
    d1_migrator: D1Migrator = apply_d1_migrations,
) -> Deployed:
    """Declare every resource of `the_plan` and export the stack outputs.

    Vectorize indexes and D1 migrations come from the dynamic providers in `infra/deploy/providers/`.
    """
    prefix = the_plan.name_prefix
    secrets = secret_values(the_plan)
    storage = Storage(
        f"{prefix}-storage",
        the_plan.storage,
        index_provisioner=index_provisioner,
        d1_migrator=d1_migrator,
    )
    worker = Worker(f"{prefix}-app", the_plan.worker, storage=storage, secrets=secrets)
    routing = Routing(
        f"{prefix}-routing",
        the_plan.routing,
        script_name=worker.script_name,
        queues={queue.name: storage.queues[queue.binding] for queue in the_plan.storage.queues},
        created=worker.created,
        buckets={bucket.name: storage.buckets[bucket.binding] for bucket in the_plan.storage.r2},
    )
    ai_gateway = None
    if the_plan.ai_gateway is not None:
        ai_gateway = AiGateway(f"{prefix}-ai", the_plan.ai_gateway, account_id=the_plan.account_id)
    deployed = Deployed(storage, worker, routing, ai_gateway)
    export_outputs(the_plan, deployed)
    return deployed


def export_outputs(the_plan: Plan, deployed: Deployed) -> None:
    worker = deployed.worker
    ids = {**deployed.storage.ids(), **worker.ids(), **deployed.routing.ids()}
    if deployed.ai_gateway is not None and the_plan.ai_gateway is not None:
        ids[the_plan.ai_gateway.name] = deployed.ai_gateway.gateway.id
    workers_dev_url: pulumi.Input[str | None] = None
    if the_plan.routing.subdomain.enabled:
        workers_dev_url = worker.worker.subdomain.apply(lambda s: s.url if s is not None else None)
    pulumi.export("scriptName", worker.script_name)
    pulumi.export("workersDevUrl", workers_dev_url)
    pulumi.export("urls", the_plan.routing.urls())
    pulumi.export("resourceIds", dict(sorted(ids.items())))
    deployment = the_plan.worker.deployment
    live_sha256 = deployment.pinned_bundle_sha256 or the_plan.bundle_sha256
    pulumi.export("bundleSha256", live_sha256)
    pulumi.export("bundleVersion", live_sha256[:12])
    pulumi.export("currentVersionId", worker.current_version_id)
    pulumi.export("stableVersionId", deployment.stable_version_id or deployment.pinned_version_id)
    pulumi.export("split", worker.split)
    pulumi.export("migrationTag", worker.migration_tag)
    pulumi.export("migrationApplied", the_plan.worker.migration.pending)


def main(worker_src: Path | None = None) -> None:
    """Entry point of `pulumi up`: the Pulumi stack name picks the stack file."""
    from infra.stackfile.load import load_stack
    from infra.stackfile.names import resolve_stack_path

    stack_name = pulumi.get_stack()
    try:
        stack = load_stack(resolve_stack_path(stack_name), worker_src=worker_src)
        release = release_config()
        # A rollback uploads nothing: it needs neither the artifact (often gone by then) nor its digest.
        pinned = release.rollout is not None and release.rollout.pinned
        bundle = load_bundle(worker_src) if pinned else program_bundle(stack, stack_name, worker_src)
        the_plan = plan(
            stack,
            bundle,
            stack_name=stack_name,
            deployed_migration_tag=deployed_migration_tag(),
            release=release,
        )
        build(the_plan)
    except EdgestackError as exc:  # bad input, before any resource is declared: one line
        raise pulumi.RunError(str(exc)) from None
