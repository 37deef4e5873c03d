"""`edgestack dev [STACK] [--port 8787] [--state .edgestack/state] [--watch]`: run the stack locally."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from infra.d1.migrations import D1MigrationError
from infra.deploy.cloudflare_api import CloudflareApiError
from infra.plan.planner import PLAN_ERRORS
from infra.stackfile.diagnostics import StackError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "dev",
        help="run a stack locally on Pyodide + workers-runtime-sdk + Miniflare (no Cloudflare account)",
        description=__doc__,
    )
    parser.add_argument("stack", nargs="?", default="local", help="stack name or file (default: local)")
    parser.add_argument("--port", type=int, default=8787, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(".edgestack/state"),
        help="where KV/D1/R2/DO/Vectorize data persists",
    )
    parser.add_argument("--watch", action="store_true", help="reload when worker_src changes")
    parser.add_argument("--worker-src", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-install", action="store_true", help="do not run `npm ci` in runtime/ when packages are missing"
    )
    parser.add_argument("--embedder", choices=("auto", "hashing"), default=None, help="local embedding model")
    parser.set_defaults(run=run)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from infra.dev.dev_vars import DevVarsError
    from infra.dev.embeddings import EmbeddingServerError
    from infra.dev.node_env import NodeSetupError
    from infra.dev.runtime_process import RuntimeStartError
    from infra.dev.session import DevConfigError, DevOptions, DevSession

    if not 0 <= args.port <= 65535:
        print(f"edgestack dev: --port {args.port} is not a port number (0-65535)", file=sys.stderr)
        return 2
    options = DevOptions(
        stack=args.stack,
        port=args.port,
        state_dir=args.state,
        watch=args.watch,
        worker_src=args.worker_src,
        auto_install=not args.no_install,
        embedder=args.embedder,
    )
    one_line_errors: tuple[type[Exception], ...] = (
        EmbeddingServerError,
        NodeSetupError,
        RuntimeStartError,
        D1MigrationError,
        CloudflareApiError,
        DevVarsError,
        DevConfigError,
        *PLAN_ERRORS,
    )
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    session: DevSession | None = None
    try:
        session = DevSession(options, out=lambda text: print(text, flush=True))
        session.start()
        return session.serve()
    except KeyboardInterrupt:
        print("edgestack dev: stopping (waiting for waitUntil work) ...", file=sys.stderr, flush=True)
        return 0
    except StackError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    except one_line_errors as exc:
        print(f"edgestack dev: {exc}", file=sys.stderr)
        return 1
    finally:
        if session is not None:
            session.close()
