"""The Node host's configuration (`runtime/lib/config.mjs` validates the same shape).

Built from the planner's `Plan`, so the local runtime binds exactly what `pulumi up` would bind:
the same binding names, resource names, plain-text bindings (`EDGESTACK_CONFIG`,
`EDGESTACK_BUNDLE_VERSION`, `EDGESTACK_STACK`, `worker.vars`) and secret names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.plan.model import Plan
from infra.plan.worker_model import BINDING_TYPES, AiBinding, JsonObject, PlainTextBinding, SecretTextBinding
from infra.spec import PYODIDE_LINES, Stack

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class AiConfig:
    binding: str
    embeddingsUrl: str | None = None  # noqa: N815
    textGenerationUrl: str | None = None  # noqa: N815
    textGenerationModelMap: dict[str, str] = field(default_factory=dict)  # noqa: N815
    textGenerationApiKey: str | None = None  # noqa: N815 - sent as `Authorization: Bearer`


@dataclass(frozen=True)
class AdminConfig:
    token: str


CLOUDFLARE_MAX_BODY_BYTES = 100 * 1_048_576  # the Free and Pro plans' request body limit (413 above)


@dataclass(frozen=True)
class HttpLimits:
    """How long a client may take to send its headers and its whole request, and the largest body
    read. A body announced larger (`content-length`) gets a 413 before any of it is read."""

    maxBodyBytes: int = CLOUDFLARE_MAX_BODY_BYTES  # noqa: N815
    headersTimeoutMs: int = 10_000  # noqa: N815
    requestTimeoutMs: int = 60_000  # noqa: N815


def stack_body_limit(stack: Stack) -> int:
    """The largest body a route of the stack accepts (the gateway's `max_body_bytes`, RAG's
    `max_document_bytes`), or Cloudflare's own limit when the stack sets neither."""
    limits = [s.max_body_bytes for s in (stack.gateway,) if s is not None and s.enabled]
    limits += [s.max_document_bytes for s in (stack.rag,) if s is not None and s.enabled]
    return max(limits, default=CLOUDFLARE_MAX_BODY_BYTES)


@dataclass(frozen=True)
class HostConfig:
    host: str
    port: int
    stateDir: str  # noqa: N815
    bundleDir: str  # noqa: N815
    sourceLabel: str  # noqa: N815 - shown before module paths in errors, e.g. "worker_src/"
    mainModule: str  # noqa: N815
    pyodideLine: str  # noqa: N815
    scriptName: str  # noqa: N815
    compatibilityDate: str  # noqa: N815
    compatibilityFlags: list[str]  # noqa: N815
    accountId: str  # noqa: N815
    admin: AdminConfig
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    backends: dict[str, str] = field(default_factory=dict)
    mapHosts: dict[str, str] = field(default_factory=dict)  # noqa: N815 - `--map-host` (local only)
    # Host section ("kv", "d1", ...) -> its entries (`WorkerBinding.host_entry`), every section listed.
    bindings: dict[str, list[JsonObject]] = field(default_factory=dict)
    ai: AiConfig | None = None
    limits: HttpLimits = field(default_factory=HttpLimits)

    def to_json(self) -> str:
        fields = asdict(self)
        sections = fields.pop("bindings")
        return json.dumps({**fields, **sections}, indent=2, sort_keys=True)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path


@dataclass(frozen=True)
class HostInputs:
    """What `edgestack dev` decides beyond the plan."""

    port: int
    state_dir: Path
    bundle_dir: Path
    source_label: str
    admin_token: str
    secrets: dict[str, str]
    embeddings_url: str | None = None
    text_generation_url: str | None = None
    text_generation_models: dict[str, str] = field(default_factory=dict)
    text_generation_api_key: str | None = None
    backends: dict[str, str] = field(default_factory=dict)
    map_hosts: dict[str, str] = field(default_factory=dict)  # HOST -> http://127.0.0.1:PORT
    limits: HttpLimits | None = None  # None: the defaults, with the stack's body limit


# The host's binding sections (`runtime/lib/config.mjs`); each is written, empty or not.
HOST_SECTIONS = ("kv", "d1", "r2", "durableObjects", "vectorize", "rateLimits", "queues")


def build_host_config(stack: Stack, plan: Plan, inputs: HostInputs) -> HostConfig:
    code = plan.worker.version.code
    sections: dict[str, list[JsonObject]] = {section: [] for section in HOST_SECTIONS}
    for binding in plan.bindings:
        entry = binding.host_entry()
        if entry is not None:
            sections[entry.section].append(entry.fields)
    plain = {b.name: b.text for b in plan.bindings if isinstance(b, PlainTextBinding)}
    secret_names = [b.name for b in plan.secret_bindings]
    ai = next((b for b in plan.bindings if isinstance(b, AiBinding)), None)
    return HostConfig(
        host=LOOPBACK,
        port=inputs.port,
        stateDir=str(inputs.state_dir.resolve()),
        bundleDir=str(inputs.bundle_dir.resolve()),
        sourceLabel=inputs.source_label,
        mainModule=code.main_module,
        pyodideLine=PYODIDE_LINES[stack.worker.python],
        scriptName=plan.script_name,
        compatibilityDate=code.compatibility_date,
        compatibilityFlags=list(code.compatibility_flags),
        accountId=plan.account_id,
        admin=AdminConfig(token=inputs.admin_token),
        vars=plain,
        secrets={name: inputs.secrets[name] for name in secret_names if name in inputs.secrets},
        backends=dict(inputs.backends),
        mapHosts=dict(inputs.map_hosts),
        bindings=sections,
        ai=(
            AiConfig(
                ai.name,
                inputs.embeddings_url,
                inputs.text_generation_url,
                dict(inputs.text_generation_models),
                inputs.text_generation_api_key,
            )
            if ai
            else None
        ),
        limits=inputs.limits or HttpLimits(maxBodyBytes=stack_body_limit(stack)),
    )


def binding_rows(plan: Plan, config: HostConfig) -> list[tuple[str, str, str]]:
    """(binding, kind, local backend) for the startup banner, kind by kind (`BINDING_TYPES`), then the
    secrets that are set."""
    rows: list[tuple[str, str, str]] = []
    for binding in sorted(plan.bindings, key=lambda b: BINDING_TYPES.index(type(b))):
        backend = binding.local_backend(config.stateDir, config.backends)
        if backend is not None:
            rows.append((binding.name, binding.banner_label, backend))
    rows += [(name, SecretTextBinding.banner_label, "set") for name in sorted(config.secrets)]
    return rows
