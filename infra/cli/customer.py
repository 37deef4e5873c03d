"""`edgestack customer new|remove`: scaffold a customer overlay / print the steps to retire one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..fleet.commands import customer_new, customer_remove
from ..fleet.customers import CustomerRequest


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "customer", help="scaffold or retire a per-customer stack", description=__doc__
    )
    commands = parser.add_subparsers(dest="customer_command", required=True)
    new = commands.add_parser(
        "new",
        help="write stacks/customers/NAME.yaml from the template (next free rate-limit namespace_id)",
        description="Write stacks/customers/NAME.yaml from the template after validating it with the whole fleet.",
    )
    new.add_argument("name", metavar="NAME")
    new.add_argument(
        "--zone-id", required=True, metavar="ID", help="the customer's zone id (32 hex characters)"
    )
    new.add_argument("--hostname", required=True, metavar="HOST", help="custom domain the Worker serves")
    new.add_argument("--limit", type=int, default=None, metavar="N", help="rate limit (requests per period)")
    new.add_argument(
        "--period", type=int, default=None, choices=(10, 60), help="rate-limit period in seconds"
    )
    new.add_argument("--stacks-dir", type=Path, default=None, help=argparse.SUPPRESS)
    new.set_defaults(run=run_new)
    remove = commands.add_parser("remove", help="print the steps to retire a customer (changes nothing)")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--stacks-dir", type=Path, default=None, help=argparse.SUPPRESS)
    remove.set_defaults(run=run_remove)


def run_new(args: argparse.Namespace) -> int:
    request = CustomerRequest(args.name, args.zone_id, args.hostname, args.limit, args.period)
    return customer_new(request, stacks_dir=args.stacks_dir)


def run_remove(args: argparse.Namespace) -> int:
    return customer_remove(args.name, stacks_dir=args.stacks_dir)
