"""Second validation pass over a valid `Stack`: references between sections, and to files.

Each check yields `Diagnostic`s positioned with the stack's `SourceMap`, so an error in a base file
points into that base file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from infra.d1.files import check_migrations_dir
from infra.spec import EMBEDDING_DIMENSIONS, Stack
from infra.spec.apps import MCP_AGENT_TOOLS
from infra.spec.local_admin import LOCAL_ADMIN_KEY_SHA256
from infra.spec.vectorize import vectorize_name_problem

from .cron import cron_problem
from .diagnostics import Diagnostic
from .env_names import (
    BINDING_REFERENCES,
    KIND_WORDS,
    EnvDeclaration,
    declared_under,
    env_declarations,
    stack_value,
)
from .messages import did_you_mean
from .project import ENTRY_MODULE
from .source import KeyPath, SourceMap, display_path, format_key_path
from .worker_scan import PLAIN_TEXT_PREFIX, durable_object_classes

BUDGET_CLASS = "BudgetCounter"  # the Durable Object class that holds budget counters (worker_src/entry.py)
RAG_TENANT_KEY = "tenant"  # the Vectorize metadata key every RAG query filters on
# Metadata every RAG chunk carries (worker_src/app/rag/ids.py builtin_metadata) and its Vectorize type.
RAG_BUILTIN_METADATA = {"folder": "string", "filename": "string", "updated_at": "number"}


class _Checker:
    def __init__(self, stack: Stack, sources: SourceMap, worker_src: Path) -> None:
        self.stack = stack
        self.sources = sources
        self.worker_src = worker_src
        self.out: list[Diagnostic] = []

    def error(self, path: KeyPath, message: str, *, on_value: bool = True) -> None:
        position = self.sources.value_position(path) if on_value else self.sources.nearest(path)
        self.out.append(Diagnostic(*position, format_key_path(path), message))

    def warning(self, path: KeyPath, message: str) -> None:
        position = self.sources.nearest(path)
        self.out.append(Diagnostic(*position, format_key_path(path), message, severity="warning"))

    def where(self, path: KeyPath) -> str:
        return str(self.sources.nearest(path))

    # --- env names ---

    def env_names(self) -> None:
        first: dict[str, EnvDeclaration] = {}
        declarations = sorted(env_declarations(self.stack), key=lambda d: self.sources.nearest(d.key_path))
        for decl in declarations:
            if decl.name.startswith(PLAIN_TEXT_PREFIX):
                self.error(
                    decl.key_path, f"names starting with {PLAIN_TEXT_PREFIX} are reserved for edgestack"
                )
            elif decl.name in first:
                other = first[decl.name]
                self.error(
                    decl.key_path,
                    f"{decl.name!r} is already declared as {format_key_path(other.key_path)} "
                    f"({self.where(other.key_path)}); each env name must be unique",
                    on_value=False,
                )
            else:
                first[decl.name] = decl

    # --- zones ---

    def zones(self) -> None:
        zones = sorted(self.stack.zones)
        items = [("routes", r.zone) for r in self.stack.worker.routes]
        items += [("custom_domains", d.zone) for d in self.stack.worker.custom_domains]
        counters = {"routes": 0, "custom_domains": 0}
        for section, zone in items:
            index = counters[section]
            counters[section] += 1
            if zone in self.stack.zones:
                continue
            hint = did_you_mean(zone, zones) or (
                f" (declared zones: {', '.join(zones)})"
                if zones
                else " (no zones are declared: add it under zones:)"
            )
            self.error(("worker", section, index, "zone"), f"unknown zone {zone!r}{hint}")

    # --- durable objects ---

    def durable_objects(self) -> None:
        live = self._migrated_classes()
        declared = self.stack.bindings.durable_objects
        if not declared and not self.stack.durable_object_migrations:
            return
        defined = durable_object_classes(self.worker_src)
        entry = display_path(self.worker_src / ENTRY_MODULE)
        for name, spec in declared.items():
            path: KeyPath = ("bindings", "durable_objects", name, "class_name")
            if isinstance(defined, Diagnostic):
                self.error(path, f"cannot check class {spec.class_name!r}: {defined.file}: {defined.message}")
                continue
            if spec.class_name not in defined:
                known = ", ".join(sorted(defined)) or "none"
                hint = (
                    did_you_mean(spec.class_name, sorted(defined))
                    or f" (DurableObject classes there: {known})"
                )
                self.error(path, f"class {spec.class_name!r} is not defined in {entry}{hint}")
            elif spec.class_name not in live:
                self.error(
                    path,
                    f"class {spec.class_name!r} is not created by any durable_object_migrations step "
                    f"(add a step with new_sqlite_classes: [{spec.class_name}])",
                )
        if isinstance(defined, Diagnostic):
            return
        for class_name, path in live.items():
            if class_name not in defined:
                self.error(path, f"migrations create class {class_name!r} but {entry} does not define it")

    def _migrated_classes(self) -> dict[str, KeyPath]:
        """Apply the migration steps in order; report invalid steps; return live class -> creating path."""
        live: dict[str, KeyPath] = {}
        tags: dict[str, int] = {}
        for i, step in enumerate(self.stack.durable_object_migrations):
            base: KeyPath = ("durable_object_migrations", i)
            if step.tag in tags:
                self.error(
                    (*base, "tag"), f"duplicate migration tag {step.tag!r} (also step {tags[step.tag]})"
                )
            tags.setdefault(step.tag, i)
            for j, name in enumerate(step.new_sqlite_classes):
                path: KeyPath = (*base, "new_sqlite_classes", j)
                if name in live:
                    self.error(
                        path, f"class {name!r} already exists (created at {format_key_path(live[name])})"
                    )
                live[name] = path
            for j, renamed in enumerate(step.renamed_classes):
                path = (*base, "renamed_classes", j)
                if renamed.from_ not in live:
                    self.error(
                        (*path, "from"), f"renames class {renamed.from_!r}, which no earlier step created"
                    )
                elif renamed.to in live:
                    self.error((*path, "to"), f"renames to {renamed.to!r}, which already exists")
                else:
                    del live[renamed.from_]
                    live[renamed.to] = (*path, "to")
            for j, name in enumerate(step.deleted_classes):
                path = (*base, "deleted_classes", j)
                if name not in live:
                    self.error(path, f"deletes class {name!r}, which no earlier step created")
                else:
                    del live[name]
        return live

    # --- runtime sections ---

    def binding_references(self) -> None:
        kinds: dict[str, str] = {}
        duplicated: set[str] = set()
        for declaration in env_declarations(self.stack):
            if declaration.name in kinds:
                duplicated.add(declaration.name)  # reported by env_names
            kinds.setdefault(declaration.name, declaration.kind)
        for path, expected in BINDING_REFERENCES:
            name = stack_value(self.stack, path)
            if not isinstance(name, str) or name in duplicated:
                continue
            actual = kinds.get(name)
            if actual is None:
                same_kind = [n for n, k in kinds.items() if k == expected]
                hint = did_you_mean(name, same_kind) or f" (declare it under bindings.{expected})"
                self.error(path, f"no {KIND_WORDS[expected]} binding named {name!r}{hint}")
            elif actual != expected:
                self.error(
                    path,
                    f"{name!r} is declared under {declared_under(actual)}; expected one from bindings.{expected}",
                )

    def embeddings(self) -> None:
        rag = self.stack.rag
        if rag is None:
            return
        if not self.stack.bindings.ai:
            self.error(
                ("rag",), "rag embeds with Workers AI: declare the binding (bindings.ai: AI)", on_value=False
            )
        dimensions = EMBEDDING_DIMENSIONS.get(rag.embedding_model)
        if dimensions is None:
            known = ", ".join(sorted(EMBEDDING_DIMENSIONS))
            hint = did_you_mean(rag.embedding_model, sorted(EMBEDDING_DIMENSIONS)) or f" (known: {known})"
            self.error(("rag", "embedding_model"), f"unknown embedding model {rag.embedding_model!r}{hint}")
            return
        index = self.stack.bindings.vectorize.get(rag.index_binding)
        if index is not None and index.dimensions != dimensions:
            index_path = ("bindings", "vectorize", rag.index_binding, "dimensions")
            self.error(
                ("rag", "embedding_model"),
                f"{rag.embedding_model} produces {dimensions}-dimensional vectors but "
                f"{format_key_path(index_path)} is {index.dimensions} ({self.where(index_path)})",
            )

    def rag(self) -> None:
        rag = self.stack.rag
        if rag is None:
            return
        index = self.stack.bindings.vectorize.get(rag.index_binding)
        if index is not None:
            indexes = index.metadata_indexes
            index_path = ("bindings", "vectorize", rag.index_binding, "metadata_indexes")
            if indexes.get(RAG_TENANT_KEY) != "string":
                self.error(
                    ("rag", "index_binding"),
                    f"RAG scopes every query to the tenant: {format_key_path(index_path)} needs "
                    f"{RAG_TENANT_KEY}: string ({self.where(index_path)})",
                )
            for i, key in enumerate(rag.filter_keys):
                if key == RAG_TENANT_KEY:
                    self.error(("rag", "filter_keys", i), f"{key!r} is reserved: every query is scoped to it")
                elif key not in indexes:
                    kind = RAG_BUILTIN_METADATA.get(key, "string|number|boolean")
                    self.error(
                        ("rag", "filter_keys", i),
                        f"filters on {key!r} need a Vectorize metadata index (created before the first "
                        f"upsert): add {key}: {kind} under {format_key_path(index_path)}",
                    )
                elif key in RAG_BUILTIN_METADATA and indexes[key] != RAG_BUILTIN_METADATA[key]:
                    self.error(
                        (*index_path, key),
                        f"{key!r} is built-in RAG metadata of type {RAG_BUILTIN_METADATA[key]}, "
                        f"so its index must be {key}: {RAG_BUILTIN_METADATA[key]}",
                    )
        if rag.ingest_on_upload and rag.queue_binding is None:
            self.error(
                ("rag", "ingest_on_upload"),
                "ingest_on_upload delivers R2 events through a queue: set rag.queue_binding",
            )
        queue = self.stack.bindings.queues.get(rag.queue_binding) if rag.queue_binding else None
        if queue is not None and not queue.consume:
            self.error(
                ("rag", "queue_binding"),
                f"queue {rag.queue_binding!r} has consume: false; RAG ingestion needs this Worker to consume it",
            )
        if self.stack.gateway is None or not self.stack.gateway.enabled:
            self.error(
                ("rag",),
                "RAG is served under the gateway's /v1 routes and keys: declare an enabled gateway section",
                on_value=False,
            )
        if rag.generation == "llm" and rag.generation_alias is None:
            self.error(
                ("rag",),
                "generation: llm needs generation_alias (a gateway route), or set generation: extractive",
                on_value=False,
            )
        routes = self.stack.gateway.routes if self.stack.gateway else {}
        if rag.expose_as_model is not None and rag.expose_as_model in routes:
            self.error(
                ("rag", "expose_as_model"),
                f"{rag.expose_as_model!r} is already a gateway route alias; pick another model name",
            )

    def mcp(self) -> None:
        mcp = self.stack.mcp
        if mcp is None or not mcp.enabled:
            return
        if self.stack.gateway is None or not self.stack.gateway.enabled:
            self.error(
                ("mcp",),
                "/mcp uses the gateway's virtual keys: declare an enabled gateway section",
                on_value=False,
            )
        rag = self.stack.rag is not None and self.stack.rag.enabled
        agents = self.stack.agents is not None and self.stack.agents.enabled
        for i, tool in enumerate(mcp.tools):
            if tool in MCP_AGENT_TOOLS and not agents:
                self.error(("mcp", "tools", i), f"{tool} messages agents: declare an enabled agents section")
            elif tool not in MCP_AGENT_TOOLS and not rag:
                self.error(("mcp", "tools", i), f"{tool} serves documents: declare an enabled rag section")
        if mcp.resources and not rag:
            self.error(("mcp", "resources"), "documents as resources need an enabled rag section (or resources: false)")

    def gateway(self) -> None:
        gateway = self.stack.gateway
        secrets = set(self.stack.worker.secrets)
        aliases = sorted(gateway.routes) if gateway else []
        if gateway:
            salt = gateway.ip_hash_salt_secret
            if salt and salt not in secrets:
                self.error(
                    ("gateway", "ip_hash_salt_secret"), f"secret {salt!r} is not listed in worker.secrets"
                )
            for kname, key in gateway.keys.items():
                if key.sha256 == LOCAL_ADMIN_KEY_SHA256 and self.stack.environment != "local":
                    self.error(
                        ("gateway", "keys", kname, "sha256"),
                        "this is the hash of the local admin key, whose secret is public: "
                        "only an environment: local stack may declare it",
                    )
            for kname, key in gateway.keys.items():
                quota = "requests_per_day" if key.requests_per_day else "tokens_per_day" if key.tokens_per_day else None
                if quota and gateway.usage_binding is None:
                    self.error(
                        ("gateway", "keys", kname, quota),
                        "daily quotas are counted in D1: set gateway.usage_binding to a D1 binding",
                    )
            providers = sorted(gateway.providers)
            for pname, provider in gateway.providers.items():
                base: KeyPath = ("gateway", "providers", pname)
                if provider.api_key_secret and provider.api_key_secret not in secrets:
                    self.error(
                        (*base, "api_key_secret"),
                        f"secret {provider.api_key_secret!r} is not listed in worker.secrets",
                    )
                if provider.kind in ("openai", "anthropic") and not provider.api_key_secret:
                    self.error(
                        base,
                        f"{provider.kind} providers need api_key_secret (a worker secret name)",
                        on_value=False,
                    )
                if provider.kind == "openai-compatible" and provider.base_url is None:
                    self.error(base, "openai-compatible providers need base_url", on_value=False)
                if provider.kind == "local-echo" and (provider.base_url or provider.api_key_secret):
                    field = "base_url" if provider.base_url else "api_key_secret"
                    self.error((*base, field), "local-echo providers answer in-process: remove this field")
                if provider.kind == "workers-ai" and not self.stack.bindings.ai:
                    self.error(
                        base,
                        "workers-ai providers need the Workers AI binding (bindings.ai: AI)",
                        on_value=False,
                    )
            for alias, route in gateway.routes.items():
                for i, candidate in enumerate(route.candidates):
                    path: KeyPath = ("gateway", "routes", alias, "candidates", i)
                    provider_spec = gateway.providers.get(candidate.provider)
                    if provider_spec is None:
                        hint = did_you_mean(candidate.provider, providers) or (
                            f" (providers: {', '.join(providers)})"
                            if providers
                            else " (no providers are declared)"
                        )
                        self.error((*path, "provider"), f"unknown provider {candidate.provider!r}{hint}")
                    elif route.kind == "embeddings" and provider_spec.kind in ("anthropic", "local-echo"):
                        self.error(
                            (*path, "provider"),
                            f"an embeddings route needs an openai, openai-compatible or workers-ai provider; "
                            f"{candidate.provider!r} is {provider_spec.kind}",
                        )
                    elif (
                        route.strategy == "cheapest"
                        and provider_spec.kind != "local-echo"  # a stand-in: always tried last
                        and candidate.model not in provider_spec.prices
                    ):
                        self.error(
                            (*path, "model"),
                            f"strategy 'cheapest' needs a price for {candidate.model!r} "
                            f"under gateway.providers.{candidate.provider}.prices",
                        )
            for key_name, key in gateway.keys.items():
                for i, model in enumerate(key.allowed_models):
                    if model not in gateway.routes:
                        self._unknown_alias(
                            ("gateway", "keys", key_name, "allowed_models", i), model, aliases
                        )
        self.budgets()
        for path in (("rag", "generation_alias"), ("rag", "rewrite_query", "alias"), ("agents", "model_alias")):
            alias = stack_value(self.stack, path)
            if isinstance(alias, str) and alias not in aliases:
                self._unknown_alias(path, alias, aliases)

    def budgets(self) -> None:
        gateway = self.stack.gateway
        if gateway is None:
            return
        budgets = gateway.all_budgets()
        if budgets and gateway.budget_binding is None:
            self.error(
                ("gateway", "budgets") if gateway.budgets else ("gateway", "keys"),
                "budgets are counted in a Durable Object: set gateway.budget_binding "
                f"(a durable_objects binding of class {BUDGET_CLASS})",
                on_value=False,
            )
        counter = self.stack.bindings.durable_objects.get(gateway.budget_binding or "")
        if counter is not None and counter.class_name != BUDGET_CLASS:
            self.error(
                ("gateway", "budget_binding"),
                f"binding {gateway.budget_binding!r} has class {counter.class_name!r}; budgets need {BUDGET_CLASS}",
            )
        keys = sorted(gateway.keys)
        tenants = sorted({key.scope for key in gateway.keys.values()})
        secrets = set(self.stack.worker.secrets)
        for name, budget in gateway.budgets.items():
            path: KeyPath = ("gateway", "budgets", name)
            known = keys if budget.scope == "key" else tenants
            if budget.match is not None and budget.scope != "stack" and budget.match not in known:
                word = "key" if budget.scope == "key" else "tenant (a key's scope)"
                hint = did_you_mean(budget.match, known) or f" (known: {', '.join(known) or 'none'})"
                self.error((*path, "match"), f"no {word} named {budget.match!r}{hint}")
            secret = budget.alert_webhook_secret
            if secret and secret not in secrets:
                self.error((*path, "alert_webhook_secret"), f"secret {secret!r} is not listed in worker.secrets")
        if not any(b.mode == "hard" for b in budgets.values()):
            return
        for alias, route in gateway.routes.items():
            for i, candidate in enumerate(route.candidates):
                provider = gateway.providers.get(candidate.provider)
                if provider is not None and candidate.model not in provider.prices:
                    self.warning(
                        ("gateway", "routes", alias, "candidates", i, "model"),
                        f"{candidate.provider}/{candidate.model} has no price: "
                        "requests that a hard budget covers are refused (400) while it is a candidate",
                    )

    def tool_secrets(self) -> None:
        """`agents.tool_secrets` are Worker secrets, and none of them is a provider key or the salt."""
        agents, gateway = self.stack.agents, self.stack.gateway
        if agents is None:
            return
        reserved: dict[str, str] = {}
        if gateway is not None:
            if gateway.ip_hash_salt_secret:
                reserved[gateway.ip_hash_salt_secret] = "gateway.ip_hash_salt_secret"
            for pname, provider in gateway.providers.items():
                if provider.api_key_secret:
                    reserved[provider.api_key_secret] = f"gateway.providers.{pname}.api_key_secret"
        for i, name in enumerate(agents.tool_secrets):
            if name not in self.stack.worker.secrets:
                self.error(("agents", "tool_secrets", i), f"secret {name!r} is not listed in worker.secrets")
            elif name in reserved:
                self.error(
                    ("agents", "tool_secrets", i),
                    f"secret {name!r} is {reserved[name]}: a tool may not send the platform's own secrets",
                )

    def _unknown_alias(self, path: KeyPath, alias: str, aliases: list[str]) -> None:
        hint = did_you_mean(alias, aliases) or (
            f" (gateway routes: {', '.join(aliases)})" if aliases else " (no gateway routes are declared)"
        )
        self.error(path, f"unknown model alias {alias!r}{hint}")

    # --- resources ---

    def rate_limits(self) -> None:
        seen: dict[int, str] = {}
        for name, spec in self.stack.bindings.rate_limits.items():
            if spec.namespace_id in seen:
                self.error(
                    ("bindings", "rate_limits", name, "namespace_id"),
                    f"namespace_id {spec.namespace_id} is also used by {seen[spec.namespace_id]}",
                )
            seen.setdefault(spec.namespace_id, name)

    def d1_migrations(self) -> None:
        for name, spec in self.stack.bindings.d1.items():
            if spec.migrations is None:
                continue
            path: KeyPath = ("bindings", "d1", name, "migrations")
            for message in _migration_folder_problems(Path(spec.migrations)):
                self.error(path, message)

    def vectorize_names(self) -> None:
        for name, spec in self.stack.bindings.vectorize.items():
            problem = vectorize_name_problem(self.stack.resource_name(name, spec.name))
            if problem:
                path: KeyPath = ("bindings", "vectorize", name) + (("name",) if spec.name else ())
                self.error(path, problem)

    def crons(self) -> None:
        for i, cron in enumerate(self.stack.worker.crons):
            problem = cron_problem(cron)
            if problem:
                self.error(("worker", "crons", i), problem)

    def local_tools(self) -> None:
        agents = self.stack.agents
        if agents is None or not agents.local_tools:
            return
        path: KeyPath = ("agents", "local_tools")
        if self.stack.environment != "local":
            self.error(path, "only an environment: local stack seeds tools (edgestack dev)", on_value=False)
        elif agents.tools_binding is None:
            self.error(path, "seeding tools needs agents.tools_binding (a KV binding)", on_value=False)

    def run(self) -> list[Diagnostic]:
        checks: list[Callable[[], None]] = [
            self.env_names,
            self.zones,
            self.durable_objects,
            self.binding_references,
            self.embeddings,
            self.rag,
            self.mcp,
            self.gateway,
            self.tool_secrets,
            self.rate_limits,
            self.d1_migrations,
            self.vectorize_names,
            self.crons,
            self.local_tools,
        ]
        for check in checks:
            check()
        return self.out


def _migration_folder_problems(folder: Path) -> Iterator[str]:
    """Folder-level checks, then the migration runner's own per-file checks (`check_migrations_dir`)."""
    shown = display_path(folder)
    if not folder.exists():
        yield f"migrations folder {shown} does not exist"
        return
    if not folder.is_dir():
        yield f"{shown} is not a folder"
        return
    if not any(p.suffix == ".sql" and p.is_file() for p in folder.iterdir()):
        yield f"migrations folder {shown} has no .sql files"
        return
    for problem in check_migrations_dir(folder):
        where = display_path(Path(problem.path))
        if problem.line:
            where = f"{where}:{problem.line}"
        yield f"migration file {where} {problem.message}"


def cross_reference_diagnostics(stack: Stack, sources: SourceMap, worker_src: Path) -> list[Diagnostic]:
    """Every cross-reference problem in `stack` (all errors), positioned via `sources`."""
    return _Checker(stack, sources, worker_src).run()

