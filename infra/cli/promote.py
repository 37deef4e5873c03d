"""`edgestack promote --from staging --to prod --artifact dist/bundle.tar [--percent N] [--dry-run]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..plan.artifact import check_against_stack, load_artifact
from ..plan.rollout import parse_percent
from ..release.automation import read_state, require_pulumi_cli
from ..release.stacks import load_named_stack
from ..release.steps import ReleaseStep, plan_promote
from ._release import run_release


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "promote",
        help="deploy the artifact a stack runs to another stack, as a gradual rollout",
        description=(
            "Refuses unless the artifact's bundle sha256 is the source stack's bundleSha256 output, then "
            "sets edgestack:bundle, edgestack:bundleSha256 and edgestack:rollout on the target and runs "
            "`pulumi up` (Automation API; needs the Pulumi CLI). --percent 100 completes the rollout; "
            "then run `edgestack mark-stable TARGET`."
        ),
    )
    parser.add_argument("--from", dest="source", required=True, metavar="STACK", help="stack the artifact runs on")
    parser.add_argument("--to", dest="target", required=True, metavar="STACK", help="stack to deploy it to")
    parser.add_argument("--artifact", type=Path, default=Path("dist/bundle.tar"), help="default: dist/bundle.tar")
    parser.add_argument("--percent", default="100", help="share of traffic for the new version, 1-100 (default 100)")
    parser.add_argument("--dry-run", action="store_true", help="print the config changes and pulumi commands only")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def make_step() -> ReleaseStep:
        percent = parse_percent(args.percent)
        target = load_named_stack(args.target)
        load_named_stack(args.source)
        artifact = load_artifact(args.artifact)
        check_against_stack(artifact, target.stack, target.name)
        require_pulumi_cli()
        return plan_promote(
            read_state(args.source),
            read_state(args.target),
            artifact_path=str(artifact.path.resolve()),
            artifact_sha256=artifact.manifest.bundle_sha256,
            artifact_migration_tag=artifact.manifest.migration_tag,
            percent=percent,
        )

    return run_release("promote", make_step, dry_run=args.dry_run)
