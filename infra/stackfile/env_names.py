"""What the Worker sees as `env.NAME` and where a stack declares it: bindings, vars and secrets, and
the names the runtime sections (gateway, rag, agents) refer to. Shared by the cross-reference pass
and `edgestack check`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.spec import Stack

from .source import KeyPath

# Fields of the runtime sections that name a binding, and the binding kind each must be.
BINDING_REFERENCES: tuple[tuple[KeyPath, str], ...] = (
    (("gateway", "cache_binding"), "kv"),
    (("gateway", "usage_binding"), "d1"),
    (("gateway", "response_store", "binding"), "d1"),
    (("gateway", "rate_limit", "binding"), "rate_limits"),
    (("gateway", "budget_binding"), "durable_objects"),
    (("rag", "documents_binding"), "r2"),
    (("rag", "index_binding"), "vectorize"),
    (("rag", "faq_cache_binding"), "kv"),
    (("rag", "catalog_binding"), "d1"),
    (("rag", "keyword_binding"), "d1"),
    (("rag", "queue_binding"), "queues"),
    (("agents", "state_binding"), "durable_objects"),
    (("agents", "history_binding"), "d1"),
    (("agents", "tools_binding"), "kv"),
)

KIND_WORDS = {
    "kv": "KV namespace",
    "d1": "D1 database",
    "r2": "R2 bucket",
    "vectorize": "Vectorize index",
    "durable_objects": "Durable Object namespace",
    "rate_limits": "rate-limit",
    "queues": "queue",
    "ai": "Workers AI",
    "var": "plain-text var",
    "secret": "secret",
}


def declared_under(kind: str) -> str:
    return {"var": "worker.vars", "secret": "worker.secrets"}.get(kind, f"bindings.{kind}")


@dataclass(frozen=True)
class EnvDeclaration:
    """A name the Worker sees as `env.NAME`, and where the stack declares it."""

    name: str
    kind: str  # a Bindings field name, or "var" / "secret"
    key_path: KeyPath


def env_declarations(stack: Stack) -> list[EnvDeclaration]:
    """Every binding, var and secret, in a stable order."""
    out = []
    for kind, name in stack.bindings.names_by_kind():
        path: KeyPath = ("bindings", "ai") if kind == "ai" else ("bindings", kind, name)
        out.append(EnvDeclaration(name, kind, path))
    out.extend(EnvDeclaration(name, "var", ("worker", "vars", name)) for name in stack.worker.vars)
    out.extend(
        EnvDeclaration(name, "secret", ("worker", "secrets", i))
        for i, name in enumerate(stack.worker.secrets)
    )
    return out


def stack_value(stack: Stack, path: KeyPath) -> Any:
    """The value at `path` in the stack (None where any part is missing)."""
    value: Any = stack
    for part in path:
        if value is None:
            return None
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, tuple) and isinstance(part, int):
            value = value[part] if part < len(value) else None
        else:
            value = getattr(value, str(part), None)
    return value


def config_referenced_names(stack: Stack) -> set[str]:
    """Env names the Worker reaches through its runtime config (binding fields, provider secrets)."""
    names = {value for path, _ in BINDING_REFERENCES if isinstance(value := stack_value(stack, path), str)}
    if stack.gateway:
        names.update(p.api_key_secret for p in stack.gateway.providers.values() if p.api_key_secret)
        if stack.gateway.ip_hash_salt_secret:
            names.add(stack.gateway.ip_hash_salt_secret)
        if any(p.kind == "workers-ai" for p in stack.gateway.providers.values()) and stack.bindings.ai:
            names.add(stack.bindings.ai)
    if stack.rag and stack.bindings.ai:
        names.add(stack.bindings.ai)  # embeddings
    return names
