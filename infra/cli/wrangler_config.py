"""`edgestack wrangler-config STACK [-o wrangler.jsonc]`: write the stack as a wrangler config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.plan.bundle import load_bundle
from infra.plan.planner import PLAN_ERRORS, plan
from infra.stackfile.diagnostics import StackError
from infra.stackfile.load import load_stack
from infra.stackfile.names import resolve_stack_path, stack_name
from infra.stackfile.project import find_project


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "wrangler-config",
        help="write the equivalent wrangler.jsonc (for `wrangler dev` on workerd)",
        description=__doc__,
    )
    parser.add_argument("stack", help="stack name or file")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("wrangler.jsonc"), help="default: wrangler.jsonc"
    )
    parser.add_argument("--worker-src", type=Path, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from infra.deploy.wrangler import render_jsonc, secret_names, wrangler_config

    try:
        worker_src: Path = args.worker_src or find_project().worker_src
        path = resolve_stack_path(args.stack)
        stack = load_stack(path, worker_src=worker_src)
        the_plan = plan(stack, load_bundle(worker_src), stack_name=stack_name(path))
    except StackError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    except PLAN_ERRORS as exc:
        print(f"edgestack wrangler-config: {exc}", file=sys.stderr)
        return 1
    output: Path = args.output
    if output.is_dir():
        print(f"edgestack wrangler-config: {output} is a folder; pass a file name", file=sys.stderr)
        return 1
    config = wrangler_config(stack, the_plan, worker_src=worker_src, output_dir=output.resolve().parent)
    text = render_jsonc(config, source=str(path), secrets=secret_names(the_plan))
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"edgestack wrangler-config: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({the_plan.script_name}, {len(config)} settings)")
    return 0
