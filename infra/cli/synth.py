"""`edgestack synth STACK_OR_PATH`: the stack's resource graph, offline (Pulumi mock runtime)."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .app import app

if TYPE_CHECKING:
    from infra.deploy.synth import SynthResource, SynthResult


class OutputFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


@app.command(
    "synth",
    help=(
        "Run the real Pulumi program under Pulumi's mock runtime and print every resource with "
        'its inputs as the provider receives them (secrets as "[secret]"), protect flag, parent '
        "and dependencies, and the stack outputs."
    ),
    short_help="print the stack's resource graph, offline (Pulumi mocks, no credentials)",
)
def synth(
    stack: Annotated[
        str, typer.Argument(metavar="STACK_OR_PATH", help="stack name (prod, customer-acme) or stack file")
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="output format (default: json)", show_default=False)
    ] = OutputFormat.JSON,
    deployed_migration_tag: Annotated[
        str | None,
        typer.Option(
            "--deployed-migration-tag",
            metavar="TAG",
            help="Durable Object migration tag of the live script (default: none, every migration is pending)",
        ),
    ] = None,
    worker_src: Annotated[
        Path | None, typer.Option("--worker-src", help="Worker source folder (default: worker_src/)")
    ] = None,
) -> int:
    from infra.deploy.synth import synth_stack

    result = synth_stack(stack, deployed_migration_tag=deployed_migration_tag, worker_src=worker_src)
    try:
        if output_format is OutputFormat.JSON:
            print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        else:
            print_resource_table(result)
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (silence the flush at exit)
    return 0


def _short_type(resource: SynthResource) -> str:
    token = resource.type
    if token.startswith("edgestack:index:"):
        return f"{token.rsplit(':', 1)[-1]} (component)"
    return token.rsplit(":", 1)[-1]


def _compact(value: Any, width: int = 90) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."


def print_resource_table(result: SynthResult) -> None:
    """Resources as an indented tree (children under their component) in a table, then the outputs."""
    children: dict[str | None, list[SynthResource]] = {}
    for resource in result.resources:
        children.setdefault(resource.parent, []).append(resource)
    rows: list[tuple[str, str, str, str]] = []

    def visit(parent: str | None, depth: int) -> None:
        for resource in children.get(parent, []):
            protect = "protect" if resource.protect else ""
            rows.append(("  " * depth + resource.name, _short_type(resource), protect, ", ".join(resource.depends_on)))
            visit(resource.name, depth + 1)

    visit(None, 0)
    print(f"stack {result.stack}: {len(result.resources)} resources\n")
    from infra.terminal import print_table  # rich: only when a table is printed

    print_table(("NAME", "TYPE", "PROTECT", "DEPENDS ON"), rows)
    print("\noutputs:")
    for key, value in sorted(result.outputs.items()):
        print(f"  {key}: {_compact(value)}")
