"""`edgestack dev [STACK] [--port 8787] [--state .edgestack/state] [--watch] [--map-host HOST=URL]`: run the stack locally."""

from __future__ import annotations

import signal
import sys
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from .app import app


class Embedder(StrEnum):
    AUTO = "auto"
    HASHING = "hashing"


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a port number (0-65535)")
    return value


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command(
    "dev",
    help="Run a stack locally on Pyodide, Cloudflare's workers SDK and Miniflare, with no Cloudflare "
    "account; Ctrl-C stops it.",
    short_help="run a stack locally on Pyodide + workers-runtime-sdk + Miniflare (no Cloudflare account)",
)
def dev(
    stack: Annotated[str, typer.Argument(help="stack name or file (default: local)", show_default=False)] = "local",
    port: Annotated[
        int, typer.Option(help="port on 127.0.0.1 (0 picks a free one)", callback=_port, show_default=False)
    ] = 8787,
    state: Annotated[
        Path, typer.Option("--state", help="where KV/D1/R2/DO/Vectorize data persists", show_default=False)
    ] = Path(".edgestack/state"),
    watch: Annotated[bool, typer.Option("--watch", help="reload when worker_src changes")] = False,
    worker_src: Annotated[Path | None, typer.Option("--worker-src", hidden=True)] = None,
    no_install: Annotated[
        bool, typer.Option("--no-install", help="do not run `npm ci` in runtime/ when packages are missing")
    ] = False,
    embedder: Annotated[Embedder | None, typer.Option(help="local embedding model")] = None,
    text_generation_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible server for Workers AI text models, e.g. http://127.0.0.1:11434/v1 "
            "(env EDGESTACK_TEXT_GENERATION_URL)",
            show_default=False,
        ),
    ] = None,
    text_generation_models: Annotated[
        str | None,
        typer.Option(
            help="MODEL=LOCAL_MODEL pairs, comma-separated: the textGenerationModelMap "
            "(env EDGESTACK_TEXT_GENERATION_MODELS)",
            show_default=False,
        ),
    ] = None,
    text_generation_api_key: Annotated[
        str | None,
        typer.Option(
            help="API key sent to that server as a Bearer token (env EDGESTACK_TEXT_GENERATION_API_KEY)",
            show_default=False,
        ),
    ] = None,
    map_host: Annotated[
        list[str] | None,
        typer.Option(
            "--map-host",
            help="HOST=http://127.0.0.1:PORT: the Worker's fetches to https://HOST go to that loopback "
            "server (local runtime only; repeatable)",
            show_default=False,
        ),
    ] = None,
) -> int:
    from infra.dev.host_map import MapHostError, parse_map_hosts
    from infra.dev.session import DevOptions, DevSession

    try:
        map_hosts = parse_map_hosts(map_host or [])
    except MapHostError as error:
        print(f"edgestack dev: --map-host: {error}", file=sys.stderr)
        return 2

    options = DevOptions(
        stack=stack,
        port=port,
        state_dir=state,
        watch=watch,
        worker_src=worker_src,
        auto_install=not no_install,
        embedder=embedder.value if embedder else None,
        text_generation_url=text_generation_url,
        text_generation_models=text_generation_models,
        text_generation_api_key=text_generation_api_key,
        map_hosts=map_hosts,
    )
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # Ctrl-C stops the session even when started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    session: DevSession | None = None
    try:
        session = DevSession(options, out=lambda text: print(text, flush=True))
        session.start()
        return session.serve()
    except KeyboardInterrupt:
        print("edgestack dev: stopping (waiting for waitUntil work) ...", file=sys.stderr, flush=True)
        return 0
    finally:
        if session is not None:
            session.close()
