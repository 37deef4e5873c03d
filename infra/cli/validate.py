"""`edgestack validate [PATH...]`: load and cross-check stack files; print one line per problem."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .app import app


@app.command(
    "validate",
    help="Validate stack files (syntax, types, extends, cross-references). Exits 1 and prints "
    "`file:line:col: key.path: message` per problem.",
    short_help="validate stack files (syntax, types, extends, cross-references)",
)
def validate(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PATH",
            help="stack file, folder of stack files, or stack name (prod, customer-acme); default: every stack",
            show_default=False,
        ),
    ] = None,
    worker_src: Annotated[
        Path | None, typer.Option("--worker-src", help="Worker source folder (default: worker_src/)")
    ] = None,
) -> int:
    from infra.stackfile.diagnostics import Diagnostic, StackError
    from infra.stackfile.load import load_stack_with_sources

    from ._targets import stack_targets

    files, problems = stack_targets(paths or [])
    for problem in problems:
        print(f"edgestack validate: {problem}")  # not a position in a stack file: the command's line
    diagnostics: set[Diagnostic] = set()
    failed = 0
    warnings: list[Diagnostic] = []
    for path in files:
        try:
            load_stack_with_sources(path, worker_src=worker_src, warnings=warnings)
        except StackError as exc:
            failed += 1
            diagnostics.update(exc.diagnostics)
    for diagnostic in sorted(diagnostics | set(warnings)):
        print(diagnostic)
    if problems and not files:  # nothing was loaded: the problem lines say it all
        return 1
    if failed or problems:
        errors = len(diagnostics) + len(problems)
        print(
            f"edgestack validate: {errors} error(s) in {failed} of {len(files)} stack file(s)",
            file=sys.stderr,
        )
        return 1
    print(f"edgestack validate: {len(files)} stack file(s) OK", file=sys.stderr)
    return 0
