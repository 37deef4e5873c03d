"""`edgestack validate [PATH...]`: load and cross-check stack files; print one line per problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from infra.stackfile.diagnostics import Diagnostic, StackError
from infra.stackfile.load import load_stack

from ._targets import stack_targets


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="validate stack files (syntax, types, extends, cross-references)",
        description="Validate stack files. Exits 1 and prints `file:line:col: key.path: message` per problem.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="stack file, folder of stack files, or stack name (prod, customer-acme); default: every stack",
    )
    parser.add_argument(
        "--worker-src", type=Path, default=None, help="Worker source folder (default: worker_src/)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files, problems = stack_targets(args.paths)
    for problem in problems:
        print(problem)
    diagnostics: set[Diagnostic] = set()
    failed = 0
    for path in files:
        try:
            load_stack(path, worker_src=args.worker_src)
        except StackError as exc:
            failed += 1
            diagnostics.update(exc.diagnostics)
    for diagnostic in sorted(diagnostics):
        print(diagnostic)
    if failed or problems:
        errors = len(diagnostics) + len(problems)
        print(
            f"edgestack validate: {errors} error(s) in {failed} of {len(files)} stack file(s)",
            file=sys.stderr,
        )
        return 1
    print(f"edgestack validate: {len(files)} stack file(s) OK", file=sys.stderr)
    return 0
