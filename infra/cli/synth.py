"""`edgestack synth STACK_OR_PATH`: the stack's resource graph, offline (Pulumi mock runtime)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from infra.deploy.synth import SynthResource, SynthResult, synth_stack
from infra.plan.planner import PLAN_ERRORS
from infra.stackfile.diagnostics import StackError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="print the stack's resource graph, offline (Pulumi mocks, no credentials)",
        description=(
            "Run the real Pulumi program under Pulumi's mock runtime and print every resource with "
            'its inputs as the provider receives them (secrets as "[secret]"), protect flag, parent '
            "and dependencies, and the stack outputs."
        ),
    )
    parser.add_argument(
        "stack", metavar="STACK_OR_PATH", help="stack name (prod, customer-acme) or stack file"
    )
    parser.add_argument(
        "--format", choices=("json", "table"), default="json", help="output format (default: json)"
    )
    parser.add_argument(
        "--deployed-migration-tag",
        metavar="TAG",
        default=None,
        help="Durable Object migration tag of the live script (default: none, every migration is pending)",
    )
    parser.add_argument(
        "--worker-src",
        type=Path,
        default=None,
        help="Worker source folder (default: worker_src/)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = synth_stack(
            args.stack, deployed_migration_tag=args.deployed_migration_tag, worker_src=args.worker_src
        )
    except StackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except PLAN_ERRORS as exc:
        print(f"edgestack synth: {exc}", file=sys.stderr)
        return 1
    text = (
        json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        if args.format == "json"
        else render_table(result)
    )
    try:
        print(text)
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


def render_table(result: SynthResult) -> str:
    """Resources as an indented tree (children under their component), then the outputs."""
    children: dict[str | None, list[SynthResource]] = {}
    for resource in result.resources:
        children.setdefault(resource.parent, []).append(resource)
    rows: list[tuple[str, str, str, str]] = []

    def visit(parent: str | None, depth: int) -> None:
        for resource in children.get(parent, []):
            rows.append(
                (
                    "  " * depth + resource.name,
                    _short_type(resource),
                    "protect" if resource.protect else "",
                    ", ".join(resource.depends_on),
                )
            )
            visit(resource.name, depth + 1)

    visit(None, 0)
    headers = ("NAME", "TYPE", "PROTECT", "DEPENDS ON")
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i]) for i in range(3)]
    lines = [f"stack {result.stack}: {len(result.resources)} resources", ""]
    for row in (headers, *rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    lines += ["", "outputs:"]
    for key, value in sorted(result.outputs.items()):
        lines.append(f"  {key}: {_compact(value)}")
    return "\n".join(line.rstrip() for line in lines)
