"""`edgestack rollback STACK [--to VERSION_ID] [--dry-run]`: pin a recorded version at 100%."""

from __future__ import annotations

import argparse

from ..release.automation import read_state, require_pulumi_cli
from ..release.stacks import load_named_stack
from ..release.steps import ReleaseStep, plan_rollback
from ._release import run_release


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "rollback",
        help="send 100% of a stack's traffic to its stable (or a given) version; uploads nothing",
        description=(
            "Sets edgestack:rollout to {\"pinVersionId\": ...} and runs `pulumi up` (Automation API; needs "
            "the Pulumi CLI). The version must be in edgestack:versions and at the script's migration tag."
        ),
    )
    parser.add_argument("stack", metavar="STACK")
    parser.add_argument("--to", metavar="VERSION_ID", default=None, help="default: the stable version")
    parser.add_argument("--dry-run", action="store_true", help="print the config changes and pulumi commands only")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def make_step() -> ReleaseStep:
        named = load_named_stack(args.stack)
        require_pulumi_cli()
        return plan_rollback(read_state(named.name), args.to)

    return run_release("rollback", make_step, dry_run=args.dry_run)
