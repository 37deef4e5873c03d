"""`edgestack fleet validate|synth|matrix|preview|up|refresh|destroy`: every customer stack at once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..fleet.automation import Operation
from ..fleet.commands import fleet_matrix, fleet_run, fleet_synth, fleet_validate, parse_only


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stacks-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-src", type=Path, default=None, help=argparse.SUPPRESS)


def _only(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", metavar="A,B", default=None, help="these customers only (default: all)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fleet", help="validate, synth or deploy every customer stack", description=__doc__
    )
    commands = parser.add_subparsers(dest="fleet_command", required=True)

    validate = commands.add_parser(
        "validate", help="cross-stack isolation checks (names, ids, hostnames, data resources)"
    )
    _common(validate)
    validate.set_defaults(run=lambda a: fleet_validate(stacks_dir=a.stacks_dir, worker_src=a.worker_src))

    synth = commands.add_parser(
        "synth", help="offline synth of every customer, in one process; a summary table"
    )
    _only(synth)
    synth.add_argument("--format", choices=("table", "json"), default="table")
    _common(synth)
    synth.set_defaults(
        run=lambda a: fleet_synth(
            only=parse_only(a.only), output_format=a.format, stacks_dir=a.stacks_dir, worker_src=a.worker_src
        )
    )

    matrix = commands.add_parser("matrix", help="a CI matrix (JSON) of N balanced shards of customers")
    matrix.add_argument("--shards", type=int, default=4, metavar="N")
    _only(matrix)
    _common(matrix)
    matrix.set_defaults(
        run=lambda a: fleet_matrix(
            a.shards, only=parse_only(a.only), stacks_dir=a.stacks_dir, worker_src=a.worker_src
        )
    )

    for operation in Operation:
        sub = commands.add_parser(
            operation.value, help=f"pulumi {operation.value} every customer (Automation API)"
        )
        _only(sub)
        sub.add_argument("--concurrency", type=int, default=4, metavar="N", help="stacks at once (default 4)")
        sub.add_argument(
            "--continue-on-error", action="store_true", help="keep starting stacks after one fails"
        )
        if operation is Operation.DESTROY:
            sub.add_argument(
                "--confirm", action="append", default=[], metavar="NAME", help="required once per customer"
            )
        _common(sub)
        sub.set_defaults(run=_operation_runner(operation))


def _operation_runner(operation: Operation) -> Any:
    def run(args: argparse.Namespace) -> int:
        return fleet_run(
            operation,
            only=parse_only(args.only),
            concurrency=args.concurrency,
            continue_on_error=args.continue_on_error,
            confirm=getattr(args, "confirm", []),
            stacks_dir=args.stacks_dir,
            worker_src=args.worker_src,
        )

    return run
