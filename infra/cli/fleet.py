"""`edgestack fleet validate|synth|matrix|preview|up|refresh|destroy`: every customer stack at once
(docs/fleets.md). The logic lives in `infra.fleet.commands`; these functions only parse arguments."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .app import app

fleet = typer.Typer(
    help="Every customer stack at once: isolation checks, offline synth, CI shards, Pulumi runs.",
    no_args_is_help=True,
)
app.add_typer(fleet, name="fleet", short_help="validate, synth or deploy every customer stack")

Only = Annotated[str | None, typer.Option("--only", metavar="A,B", help="these customers only (default: all)")]
StacksDir = Annotated[Path | None, typer.Option("--stacks-dir", hidden=True)]
WorkerSrc = Annotated[Path | None, typer.Option("--worker-src", hidden=True)]
Concurrency = Annotated[int, typer.Option("--concurrency", metavar="N", help="stacks at once")]
ContinueOnError = Annotated[
    bool, typer.Option("--continue-on-error", help="keep starting stacks after one fails")
]


class SynthFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@fleet.command("validate", help="Cross-stack isolation checks: names, ids, hostnames, data resources.")
def validate(stacks_dir: StacksDir = None, worker_src: WorkerSrc = None) -> int:
    from infra.fleet.commands import fleet_validate

    return fleet_validate(stacks_dir=stacks_dir, worker_src=worker_src)


@fleet.command("synth", help="Offline synth of every customer in one process; a summary table.")
def synth(
    only: Only = None,
    output_format: Annotated[SynthFormat, typer.Option("--format")] = SynthFormat.TABLE,
    stacks_dir: StacksDir = None,
    worker_src: WorkerSrc = None,
) -> int:
    from infra.fleet.commands import fleet_synth, parse_only

    return fleet_synth(
        only=parse_only(only), output_format=output_format.value, stacks_dir=stacks_dir, worker_src=worker_src
    )


@fleet.command("matrix", help="A CI matrix (JSON) of N balanced shards of customers.")
def matrix(
    shards: Annotated[int, typer.Option("--shards", metavar="N")] = 4,
    only: Only = None,
    stacks_dir: StacksDir = None,
    worker_src: WorkerSrc = None,
) -> int:
    from infra.fleet.commands import fleet_matrix, parse_only

    return fleet_matrix(shards, only=parse_only(only), stacks_dir=stacks_dir, worker_src=worker_src)


def _run(
    operation: str,
    only: str | None,
    concurrency: int,
    continue_on_error: bool,
    stacks_dir: Path | None,
    worker_src: Path | None,
    confirm: list[str] | None = None,
) -> int:
    from infra.fleet.automation import Operation
    from infra.fleet.commands import fleet_run, parse_only

    return fleet_run(
        Operation(operation),
        only=parse_only(only),
        concurrency=concurrency,
        continue_on_error=continue_on_error,
        confirm=confirm or [],
        stacks_dir=stacks_dir,
        worker_src=worker_src,
    )


def _register(operation: str) -> None:
    def command(
        only: Only = None,
        concurrency: Concurrency = 4,
        continue_on_error: ContinueOnError = False,
        stacks_dir: StacksDir = None,
        worker_src: WorkerSrc = None,
    ) -> int:
        return _run(operation, only, concurrency, continue_on_error, stacks_dir, worker_src)

    fleet.command(operation, help=f"pulumi {operation} every customer (Automation API).")(command)


for _operation in ("preview", "up", "refresh"):
    _register(_operation)


@fleet.command("destroy", help="pulumi destroy customers; needs --confirm NAME for each.")
def destroy(
    only: Only = None,
    confirm: Annotated[
        list[str] | None, typer.Option("--confirm", metavar="NAME", help="required once per customer")
    ] = None,
    concurrency: Concurrency = 4,
    continue_on_error: ContinueOnError = False,
    stacks_dir: StacksDir = None,
    worker_src: WorkerSrc = None,
) -> int:
    return _run("destroy", only, concurrency, continue_on_error, stacks_dir, worker_src, confirm)
