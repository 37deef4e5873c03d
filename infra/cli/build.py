"""`edgestack build STACK [-o dist/]`: the deterministic release artifact and its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app


@app.command(
    "build",
    help=(
        "Write OUTPUT/bundle.tar (every module of the Worker bundle, fixed metadata: the same sources "
        "give the same bytes) and OUTPUT/bundle.manifest.json (digests, modules, SDK version, "
        "compatibility date and flags, Durable Object migration tag). See docs/ci.md."
    ),
    short_help="build the release artifact once (bundle.tar + bundle.manifest.json)",
)
def build(
    stack: Annotated[
        str, typer.Argument(metavar="STACK", help="stack name or file (compatibility settings, migration tag)")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="output folder")] = Path("dist"),
    worker_src: Annotated[Path | None, typer.Option("--worker-src", hidden=True)] = None,
) -> int:
    from infra.plan.artifact import write_artifact
    from infra.plan.bundle import load_bundle
    from infra.release.stacks import load_named_stack

    named = load_named_stack(stack, worker_src=worker_src)
    bundle = load_bundle(worker_src)
    bundle.check_limits(paid_plan=named.stack.worker.paid_plan)
    artifact = write_artifact(named.stack, named.name, bundle, output)
    manifest = artifact.manifest
    print(
        f"wrote {artifact.path} ({len(manifest.modules)} modules, bundle sha256 {manifest.bundle_sha256}) "
        f"and {artifact.manifest_path.name}"
    )
    return 0
