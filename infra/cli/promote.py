"""`edgestack promote --from staging --to prod --artifact dist/bundle.tar [--percent N] [--dry-run]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._release import DryRunOption, StateFileOption, run_release
from .app import app


@app.command(
    "promote",
    help=(
        "Deploy the artifact a stack runs to another stack, as a gradual rollout. "
        "Refuses unless the artifact's bundle sha256 is the source stack's bundleSha256 output, then sets "
        "edgestack:bundle, edgestack:bundleSha256 and edgestack:rollout on the target and runs `pulumi up` "
        "(Automation API; needs the Pulumi CLI). --percent 100 completes the rollout; then run "
        "`edgestack mark-stable TARGET`."
    ),
    short_help="deploy the artifact a stack runs to another stack, as a gradual rollout",
)
def promote(
    source: Annotated[str, typer.Option("--from", metavar="STACK", help="stack the artifact runs on")],
    target: Annotated[str, typer.Option("--to", metavar="STACK", help="stack to deploy it to")],
    artifact: Annotated[Path, typer.Option("--artifact", help="the artifact (edgestack build)")] = Path(
        "dist/bundle.tar"
    ),
    percent: Annotated[
        int, typer.Option("--percent", min=1, max=100, help="share of traffic for the new version, 1-100")
    ] = 100,
    dry_run: DryRunOption = False,
    state_file: StateFileOption = None,
) -> int:
    from infra.plan.artifact import check_against_stack, load_artifact
    from infra.release.automation import state
    from infra.release.stacks import load_named_stack
    from infra.release.steps import ReleaseStep, plan_promote

    def make_step() -> ReleaseStep:
        to = load_named_stack(target)
        load_named_stack(source)
        built = load_artifact(artifact)
        check_against_stack(built, to.stack, to.name)
        return plan_promote(
            state(source, state_file),
            state(target, state_file),
            artifact_path=str(built.path.resolve()),
            artifact_sha256=built.manifest.bundle_sha256,
            artifact_migration_tag=built.manifest.migration_tag,
            percent=percent,
        )

    return run_release(make_step, dry_run=dry_run)
