"""`edgestack build STACK [-o dist/]`: the deterministic release artifact and its manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..plan.artifact import ArtifactError, write_artifact
from ..plan.bundle import BundleError, load_bundle
from ..release.stacks import load_named_stack
from ..stackfile.diagnostics import StackError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "build",
        help="build the release artifact once (bundle.tar + bundle.manifest.json)",
        description=__doc__,
    )
    parser.add_argument("stack", metavar="STACK", help="stack name or file (compatibility settings, migration tag)")
    parser.add_argument("-o", "--output", type=Path, default=Path("dist"), help="output folder (default: dist/)")
    parser.add_argument("--worker-src", type=Path, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        named = load_named_stack(args.stack, worker_src=args.worker_src)
        bundle = load_bundle(args.worker_src)
        bundle.check_limits(paid_plan=named.stack.worker.paid_plan)
        artifact = write_artifact(named.stack, named.name, bundle, args.output)
    except StackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (ArtifactError, BundleError) as exc:
        print(f"edgestack build: {exc}", file=sys.stderr)
        return 1
    manifest = artifact.manifest
    print(
        f"wrote {artifact.path} ({len(manifest.modules)} modules, bundle sha256 {manifest.bundle_sha256}) "
        f"and {artifact.manifest_path.name}"
    )
    return 0
