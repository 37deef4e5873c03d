"""`edgestack wrangler-config STACK [-o wrangler.jsonc]`: write the stack as a wrangler config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import CommandError, app


@app.command(
    "wrangler-config",
    help="Write the stack as a wrangler config (wrangler.jsonc), to run `wrangler dev` on real workerd.",
    short_help="write the equivalent wrangler.jsonc (for `wrangler dev` on workerd)",
)
def wrangler_config_command(
    stack: Annotated[str, typer.Argument(help="stack name or file")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="default: wrangler.jsonc", show_default=False)
    ] = Path("wrangler.jsonc"),
    worker_src: Annotated[Path | None, typer.Option("--worker-src", hidden=True)] = None,
) -> int:
    from infra.deploy.wrangler import render_jsonc, secret_names, wrangler_config
    from infra.plan.bundle import load_bundle
    from infra.plan.planner import plan
    from infra.stackfile.load import load_stack
    from infra.stackfile.names import resolve_stack_path, stack_name
    from infra.stackfile.project import project_of

    path = resolve_stack_path(stack)
    worker_src = worker_src or project_of(path).worker_src
    the_stack = load_stack(path, worker_src=worker_src)
    the_plan = plan(the_stack, load_bundle(worker_src), stack_name=stack_name(path))
    if output.is_dir():
        raise CommandError(f"{output} is a folder; pass a file name")
    config = wrangler_config(the_stack, the_plan, worker_src=worker_src, output_dir=output.resolve().parent)
    text = render_jsonc(config, source=str(path), secrets=secret_names(the_plan))
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"wrote {output} ({the_plan.script_name}, {len(config)} settings)")
    return 0
