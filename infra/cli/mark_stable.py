"""`edgestack mark-stable STACK [--dry-run]`: after `promote --percent 100`, record the new stable version."""

from __future__ import annotations

import argparse

from ..release.automation import read_state, require_pulumi_cli
from ..release.stacks import load_named_stack
from ..release.steps import ReleaseStep, plan_mark_stable
from ._release import run_release


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "mark-stable",
        help="record the version at 100% in edgestack:versions and end the rollout",
        description=__doc__,
    )
    parser.add_argument("stack", metavar="STACK")
    parser.add_argument("--dry-run", action="store_true", help="print the config changes and pulumi commands only")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def make_step() -> ReleaseStep:
        named = load_named_stack(args.stack)
        require_pulumi_cli()
        return plan_mark_stable(read_state(named.name))

    return run_release("mark-stable", make_step, dry_run=args.dry_run)
