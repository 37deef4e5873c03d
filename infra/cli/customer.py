"""`edgestack customer new|remove`: scaffold a customer overlay / print the steps to retire one
(docs/fleets.md). The logic lives in `infra.fleet`; these functions only parse arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app

customer = typer.Typer(help="Scaffold or retire a per-customer stack.", no_args_is_help=True)
app.add_typer(customer, name="customer", short_help="scaffold or retire a per-customer stack")

StacksDir = Annotated[Path | None, typer.Option("--stacks-dir", hidden=True)]


@customer.command(
    "new",
    help="Write stacks/customers/NAME.yaml from the template, with the next free rate-limit namespace_id, "
    "after validating it with the whole fleet.",
)
def new(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    zone_id: Annotated[str, typer.Option("--zone-id", metavar="ID", help="the customer's zone id (32 hex)")],
    hostname: Annotated[str, typer.Option("--hostname", metavar="HOST", help="custom domain the Worker serves")],
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="rate limit per period")] = None,
    period: Annotated[int | None, typer.Option("--period", metavar="10|60", help="rate-limit period (s)")] = None,
    stacks_dir: StacksDir = None,
) -> int:
    from infra.fleet.commands import customer_new
    from infra.fleet.customers import CustomerRequest

    return customer_new(CustomerRequest(name, zone_id, hostname, limit, period), stacks_dir=stacks_dir)


@customer.command("remove", help="Print the steps to retire a customer; changes nothing.")
def remove(name: Annotated[str, typer.Argument(metavar="NAME")], stacks_dir: StacksDir = None) -> int:
    from infra.fleet.commands import customer_remove

    return customer_remove(name, stacks_dir=stacks_dir)
