"""One `edgestack dev` session: build, start, migrate, announce, serve (and reload with --watch)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from infra.errors import EdgestackError
from infra.plan.bundle import load_bundle
from infra.plan.model import Plan
from infra.plan.planner import plan as make_plan
from infra.plan.sdk_pin import WORKERS_RUNTIME_SDK_VERSION
from infra.spec import Stack
from infra.spec.local_admin import LOCAL_ADMIN_KEY
from infra.stackfile.load import load_stack
from infra.stackfile.names import resolve_stack_path, stack_name
from infra.stackfile.project import find_project
from infra.stackfile.source import display_path

from .banner import BannerFacts, render_banner
from .bundle_dir import write_bundle
from .dev_vars import LocalSecrets, resolve_secrets
from .host_config import HostConfig, HostInputs, HttpLimits, build_host_config
from .local_tools import has_local_admin_key, seed_local_tools
from .migrate import apply_local_migrations, signal_ready
from .node_env import ensure_runtime_packages, find_node
from .rag_mode import local_rag_mode
from .runtime_process import ReadyInfo, RuntimeProcess, RuntimeStartError
from .watch import SourceWatcher

TEXT_GENERATION_URL_ENV = "EDGESTACK_TEXT_GENERATION_URL"
TEXT_GENERATION_MODELS_ENV = "EDGESTACK_TEXT_GENERATION_MODELS"
TEXT_GENERATION_API_KEY_ENV = "EDGESTACK_TEXT_GENERATION_API_KEY"


class DevConfigError(EdgestackError, ValueError):
    """A bad `edgestack dev` setting (one line)."""


@dataclass(frozen=True)
class DevOptions:
    stack: str = "local"
    port: int = 8787
    state_dir: Path = Path(".edgestack/state")
    watch: bool = False
    worker_src: Path | None = None  # None: the project's worker_src/
    auto_install: bool = True
    embedder: str | None = None  # "auto" | "hashing"; None: EDGESTACK_EMBEDDER or auto
    log_file: Path | None = None  # the host's output (logs, Worker prints, errors); None: this terminal
    # An OpenAI-compatible server for Workers AI text models; None: the EDGESTACK_TEXT_GENERATION_* env.
    text_generation_url: str | None = None
    text_generation_models: str | None = None  # "@cf/model=local-model,..."
    text_generation_api_key: str | None = None

    map_hosts: dict[str, str] = field(default_factory=dict)  # `--map-host`: HOST -> http://127.0.0.1:PORT
    http_limits: HttpLimits | None = None  # None: the host's defaults and the stack's body limit


@dataclass(frozen=True)
class TextGeneration:
    """Where Workers AI text models go under `edgestack dev` (flags over environment)."""

    url: str | None
    models: dict[str, str]
    api_key: str | None

    @classmethod
    def resolve(cls, options: DevOptions, environ: Mapping[str, str]) -> TextGeneration:
        url = options.text_generation_url or environ.get(TEXT_GENERATION_URL_ENV) or None
        models = parse_model_map(
            options.text_generation_models
            if options.text_generation_models is not None
            else environ.get(TEXT_GENERATION_MODELS_ENV, "")
        )
        if models and url is None:
            raise DevConfigError(
                f"{TEXT_GENERATION_MODELS_ENV} (--text-generation-models) maps models, but no server is "
                f"given: set {TEXT_GENERATION_URL_ENV} or --text-generation-url"
            )
        api_key = options.text_generation_api_key or environ.get(TEXT_GENERATION_API_KEY_ENV) or None
        return cls(url, models, api_key)

    def banner_lines(self) -> list[str]:
        if self.url is None:
            return [
                "Text generation: no local server; a Workers AI text model fails as unknown (5007). Map "
                f"one with {TEXT_GENERATION_URL_ENV}=http://127.0.0.1:11434/v1 "
                f"{TEXT_GENERATION_MODELS_ENV}='@cf/meta/llama-3.1-8b-instruct=llama3.1:8b'"
            ]
        auth = ", with an API key" if self.api_key else ""
        lines = [f"Text generation: {self.url}{auth}"]
        lines += [f"  {cf_model} -> {local}" for cf_model, local in self.models.items()]
        if not self.models:
            lines.append(f"  no models mapped: set {TEXT_GENERATION_MODELS_ENV}='@cf/...=LOCAL_MODEL'")
        return lines


@dataclass
class _Embeddings:
    url: str | None = None
    lines: list[str] = field(default_factory=list)
    backend: str = ""
    language_model: bool = False
    stop: Callable[[], None] | None = None


def parse_model_map(text: str) -> dict[str, str]:
    """`@cf/meta/llama-3.1-8b-instruct=llama3.1:8b,...` -> {workers-ai model: local model}."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        cf_model, sep, local = item.partition("=")
        if not sep or not cf_model.strip() or not local.strip():
            raise DevConfigError(
                f"{TEXT_GENERATION_MODELS_ENV}: expected MODEL=LOCAL_MODEL pairs, got {item!r}"
            )
        mapping[cf_model.strip()] = local.strip()
    return mapping


class DevSession:
    def __init__(self, options: DevOptions, out: Callable[[str], None] = print) -> None:
        self.options = options
        self.out = out
        self.project = find_project()
        self.worker_src = options.worker_src or self.project.worker_src
        self.stack_path = resolve_stack_path(options.stack)
        self.stack_name = stack_name(self.stack_path)
        self.stack: Stack = load_stack(self.stack_path, worker_src=self.worker_src)
        self.state_dir = options.state_dir.resolve()
        self.node = find_node()
        ensure_runtime_packages(auto_install=options.auto_install)
        self.secrets: LocalSecrets = resolve_secrets(self.stack.worker.secrets, self.project.root)
        self.admin_token = secrets.token_urlsafe(24)
        self.text_generation = TextGeneration.resolve(options, os.environ)
        self.embeddings = _Embeddings()
        self.runtime: RuntimeProcess | None = None
        self.config_file: Path | None = None
        self.port = options.port
        # Private to this session: concurrent sessions (tests, a second terminal) never share files.
        self.work_dir = Path(tempfile.mkdtemp(prefix="session-", dir=_ensure_dir(self.project.state_dir / "dev")))
        self._log: IO[str] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def _start_embeddings(self) -> None:
        if not self.stack.bindings.ai or self.embeddings.url:
            return
        from infra.dev.embeddings import start_embedding_server

        if self.options.embedder:
            os.environ["EDGESTACK_EMBEDDER"] = self.options.embedder
        server = start_embedding_server()
        self.embeddings.url = server.url
        self.embeddings.stop = server.stop
        self.embeddings.language_model = server.language_model
        # The hashing embedder's name already says it is not a language model.
        self.embeddings.backend = f"embeddings: {server.embedder_name}; text generation: " + (
            self.text_generation.url or "not configured (errors like an unavailable model)"
        )
        self.embeddings.lines = [f"Embeddings: {server.embedder_name}: {server.reason}"] + [
            f"  {m.workers_ai_model} ({m.dimensions}d) -> "
            + (m.served_by or "refused: dimensions differ (never resized)")
            for m in server.mappings
        ]

    def _host_config(self, the_plan: Plan, bundle_dir: Path) -> HostConfig:
        backends = {
            "kv": "miniflare",
            "d1": "miniflare",
            "r2": "miniflare",
            "durable_objects": "sqlite (better-sqlite3)",
            "vectorize": "local exact search",
        }
        if self.embeddings.backend:
            backends["ai"] = self.embeddings.backend
        return build_host_config(
            self.stack,
            the_plan,
            HostInputs(
                port=self.port,
                state_dir=self.state_dir,
                bundle_dir=bundle_dir,
                source_label=_source_label(self.worker_src),
                admin_token=self.admin_token,
                secrets=self.secrets.values,
                embeddings_url=self.embeddings.url,
                text_generation_url=self.text_generation.url,
                text_generation_models=self.text_generation.models,
                text_generation_api_key=self.text_generation.api_key,
                backends=backends,
                map_hosts=dict(self.options.map_hosts),
                limits=self.options.http_limits,
            ),
        )

    def start(self, *, announce: bool = True) -> ReadyInfo:
        """Build the bundle, start the host, apply D1 migrations. Raises one-line errors."""
        self._start_embeddings()
        bundle = load_bundle(self.worker_src)
        bundle_dir = write_bundle(bundle, self.work_dir / "bundles")
        stack, rag_mode_line = local_rag_mode(self.stack, self.embeddings.language_model)
        the_plan = make_plan(stack, bundle, stack_name=self.stack_name)
        config = self._host_config(the_plan, bundle_dir)
        self.config_file = self.work_dir / "host-config.json"
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds secrets
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(config.to_json())
        if self.options.log_file is not None and self._log is None:
            self.options.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.options.log_file.open("a", encoding="utf-8", buffering=1)
        log = self._log
        runtime = RuntimeProcess(self.node.node, self.config_file)
        if log is not None:
            runtime = RuntimeProcess(self.node.node, self.config_file, on_log=_line_writer(log), stderr=log)
        loaded = runtime.start()
        self.runtime = runtime
        self.port = loaded.port  # keep the port across --watch reloads (also when --port 0)
        # The host answers only its admin API until told the schema is in place (no early request
        # may see missing tables), then serves the Worker.
        try:
            migrations = apply_local_migrations(the_plan, loaded.url, self.admin_token, self.state_dir)
            ready = replace(loaded, timings={**loaded.timings, **signal_ready(loaded.url, self.admin_token)})
            seeded = seed_local_tools(self.stack, ready.url)
        except BaseException:
            self.stop()
            raise
        if announce:
            self.out(
                render_banner(
                    BannerFacts(
                        stack_name=self.stack_name,
                        python=self.stack.worker.python,
                        sdk_version=WORKERS_RUNTIME_SDK_VERSION,
                        bundle_version=bundle.version,
                        module_count=len(bundle.modules),
                        state_dir=display_path(self.state_dir),
                        ready=ready,
                        plan=the_plan,
                        config=config,
                        migrations=migrations,
                        missing_secrets=self.secrets.missing,
                        embedding_lines=[
                            *self.embeddings.lines,
                            *filter(None, [rag_mode_line]),
                            *(self.text_generation.banner_lines() if self.stack.bindings.ai else []),
                        ],
                        local_admin_key=LOCAL_ADMIN_KEY if has_local_admin_key(self.stack) else None,
                        seeded_tools=seeded,
                        watching=display_path(self.worker_src.resolve()) if self.options.watch else None,
                    )
                )
            )
        return ready

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None
        if self.config_file is not None:
            self.config_file.unlink(missing_ok=True)

    def close(self) -> None:
        self.stop()
        if self.embeddings.stop is not None:
            self.embeddings.stop()
            self.embeddings.stop = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.work_dir, ignore_errors=True)

    # --- serving -----------------------------------------------------------------------------

    def serve(self) -> int:
        """Block until Ctrl-C (0) or the host exits by itself (1); with --watch, reload on changes."""
        watcher = SourceWatcher(self.worker_src) if self.options.watch else None
        while True:
            if watcher is None:
                time.sleep(0.3)
            elif watcher.changed():  # waits up to 0.3 s for a change
                self.reload()
                continue
            if self.runtime is not None and not self.runtime.alive():
                print(f"edgestack dev: {self.runtime.describe_exit()}; stopping", file=sys.stderr)
                return 1

    def reload(self) -> None:
        self.out(f"edgestack dev: {display_path(self.worker_src.resolve())} changed, reloading ...")
        self.stop()
        try:
            ready = self.start(announce=False)
        except RuntimeStartError as exc:
            print(f"edgestack dev: {exc} (waiting for the next change)", file=sys.stderr)
            return
        except Exception as exc:  # a bad edit must not end the session
            print(f"edgestack dev: {_first_line(exc)} (waiting for the next change)", file=sys.stderr)
            return
        self.out(f"edgestack dev: reloaded, serving {ready.url}")


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _line_writer(stream: IO[str]) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line)

    return write


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _source_label(worker_src: Path) -> str:
    return display_path(worker_src.resolve()).rstrip("/") + "/"
