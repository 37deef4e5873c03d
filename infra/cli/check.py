"""`edgestack check [STACK]`: compare the Worker's `env.NAME` uses with what the stack declares.

An `env.NAME` the code uses but the stack does not declare (as a binding, var or secret, or one of the
`EDGESTACK_*` plain-text bindings) is an error. A declared name no code uses, and that no runtime
section (gateway/rag/agents binding fields, provider secrets) names, is a warning.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import app

if TYPE_CHECKING:  # imported when the command runs: `edgestack --help` stays fast
    from infra.spec import Stack
    from infra.stackfile.diagnostics import Diagnostic
    from infra.stackfile.source import SourceMap
    from infra.stackfile.worker_scan import EnvUsage


def binding_diagnostics(
    stack: Stack, sources: SourceMap, stack_file: str, usages: list[EnvUsage], plain_text: set[str]
) -> list[Diagnostic]:
    from infra.stackfile.diagnostics import Diagnostic
    from infra.stackfile.env_names import config_referenced_names, env_declarations
    from infra.stackfile.source import display_path, format_key_path

    declarations = env_declarations(stack)
    declared = {d.name for d in declarations} | plain_text
    out = [
        Diagnostic(
            display_path(use.file),
            use.line,
            use.col,
            f"env.{use.name}",
            f"{use.name!r} is not declared by {stack_file} (no binding, var or secret with that name)",
        )
        for use in usages
        if use.name not in declared
    ]
    used = {use.name for use in usages} | config_referenced_names(stack)
    for declaration in declarations:
        if declaration.name not in used:
            position = sources.nearest(declaration.key_path)
            out.append(
                Diagnostic(
                    *position,
                    format_key_path(declaration.key_path),
                    f"{declaration.name!r} is declared but no Worker code or runtime section uses it",
                    severity="warning",
                )
            )
    return out


@app.command(
    "check",
    help="Compare the Worker's `env.NAME` uses with what the stack declares (bindings, vars, secrets).",
    short_help="check the Worker's env.NAME uses against a stack's bindings",
)
def check(
    stack: Annotated[
        str | None,
        typer.Argument(metavar="[STACK]", help="stack name or file (default: every stack)", show_default=False),
    ] = None,
    worker_src: Annotated[
        Path | None, typer.Option("--worker-src", help="Worker source folder (default: worker_src/)")
    ] = None,
) -> int:
    from infra.stackfile.diagnostics import StackError
    from infra.stackfile.load import load_stack_with_sources
    from infra.stackfile.project import find_project, project_of
    from infra.stackfile.source import display_path
    from infra.stackfile.worker_scan import plain_text_binding_names, scan_env_usages

    from ._targets import stack_targets

    files, problems = stack_targets([stack] if stack else [])
    worker_src = worker_src or (project_of(files[0]) if files else find_project()).worker_src
    for problem in problems:
        print(problem)
    if not worker_src.is_dir():
        print(f"{display_path(worker_src)}: Worker source folder not found")
        return 1
    usages, diagnostics = scan_env_usages(worker_src)
    plain_text = plain_text_binding_names(worker_src)
    found: set[Diagnostic] = set(diagnostics)
    for path in files:
        try:
            loaded, sources = load_stack_with_sources(path, worker_src=worker_src)
        except StackError as exc:
            found.update(exc.diagnostics)
            continue
        found.update(binding_diagnostics(loaded, sources, display_path(path), usages, plain_text))
    for diagnostic in sorted(found):
        print(diagnostic)
    errors = sum(1 for d in found if d.severity == "error") + len(problems)
    warnings = len(found) - (errors - len(problems))
    print(
        f"edgestack check: {errors} error(s), {warnings} warning(s) in {len(files)} stack(s)", file=sys.stderr
    )
    return 1 if errors else 0
