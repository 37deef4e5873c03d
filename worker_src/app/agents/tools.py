"""Tool configurations: validated specs (PUT /v1/tools/{name}), stored per tenant in KV.

All tools of a tenant live in one KV value (`agent-tools/<tenant>`), so a turn reads them with one
KV get; each isolate caches it for `tool_cache_ttl_s` (default 10 s). KV is eventually consistent:
an edit can take about 60 s to be seen in every location (docs/agents.md).

Spec (JSON):
  {"kind": "http_get" | "kv_lookup" | "schedule" | "rag_search" | "mcp",
   "description": str?, "parameters": JSON schema (type object)?, "requires_approval": bool?,
   "timeout_ms": int?, ...kind options}
Kind options: http_get: allow_hosts (required), max_response_bytes, content_types, headers,
secret_headers; kv_lookup: prefix; rag_search: top_k, mode; mcp (a remote MCP server, see
mcp_client.py): url (required), allow_tools, headers, secret_headers, timeout_s (instead of
timeout_ms), max_response_bytes, and requires_approval may list remote tool names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

from ..bindings import KvNamespace
from ..web.jsonbody import JsonBodyError, check_values
from .public_suffix import allow_pattern_problem
from .ssrf import BlockedUrl, check_host, check_url, ip_literal, url_host

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KINDS = ("http_get", "kv_lookup", "schedule", "rag_search", "mcp")
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
KV_PREFIX = "agent-tools/"
LOOKUP_PREFIX = "agent-data/"
LOOKUP_KEY_PREFIX = re.compile(r"^[A-Za-z0-9/_.:-]{0,128}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})
DEFAULT_CONTENT_TYPES = ("text/*", "application/json", "application/xml", "application/xhtml+xml")
MAX_TOOLS_PER_TENANT = 64
MASKED = "********"

_COMMON = ("kind", "description", "parameters", "requires_approval", "timeout_ms")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "http_get": ("allow_hosts", "max_response_bytes", "content_types", "headers", "secret_headers"),
    "kv_lookup": ("prefix",),
    "schedule": (),
    "rag_search": ("top_k", "mode"),
    "mcp": ("url", "allow_tools", "headers", "secret_headers", "timeout_s", "max_response_bytes"),
}
# Common fields a kind does not take (an mcp tool's parameters come from the remote server).
_NOT_FOR_KIND: dict[str, tuple[str, ...]] = {"mcp": ("parameters", "timeout_ms")}
MCP_SEPARATOR = "__"  # the model sees `<tool>__<remote tool>`
# The arguments each kind reads (the parameters schema must declare them).
KIND_PARAMETERS: dict[str, dict[str, Any]] = {
    "http_get": {
        "type": "object",
        "properties": {"url": {"type": "string", "description": "https URL to GET"}},
        "required": ["url"],
    },
    "kv_lookup": {
        "type": "object",
        "properties": {"key": {"type": "string", "description": "key to look up"}},
        "required": ["key"],
    },
    "schedule": {
        "type": "object",
        "properties": {
            "at": {"type": "string", "description": "ISO 8601 time (UTC if no offset)"},
            "in_s": {"type": "number", "description": "seconds from now"},
            "prompt": {"type": "string", "description": "the message the agent receives then"},
        },
        "required": ["prompt"],
    },
    "rag_search": {
        "type": "object",
        "properties": {"query": {"type": "string"}, "top_k": {"type": "integer"}},
        "required": ["query"],
    },
    "mcp": {"type": "object", "properties": {}, "required": []},  # each remote tool brings its own
}
DEFAULT_DESCRIPTIONS = {
    "http_get": "Fetch an https URL (allowed hosts only) and return its text.",
    "kv_lookup": "Look up a value by key.",
    "schedule": "Schedule a message to yourself at a time ('at') or after a delay ('in_s').",
    "rag_search": "Search the knowledge base and return the best matching passages.",
    "mcp": "Tools of a remote MCP server.",
}


class ToolSpecError(ValueError):
    """A bad tool spec; `field` is the key path of what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ToolSpec(NamedTuple):
    name: str
    kind: str
    description: str
    parameters: dict[str, Any]
    requires_approval: bool
    timeout_ms: int | None
    options: dict[str, Any]  # the kind's options, validated

    def to_json(self) -> dict[str, Any]:
        if self.kind == "mcp":  # the spec as written (its parameters come from the server)
            spec: dict[str, Any] = {
                "kind": self.kind,
                "description": self.description,
                "requires_approval": self.options.get("approval_tools", self.requires_approval),
            }
            if self.timeout_ms is not None:
                spec["timeout_s"] = self.timeout_ms / 1000
            spec.update((k, v) for k, v in self.options.items() if k not in ("approval_tools", "remote_tool"))
            return spec
        out: dict[str, Any] = {
            "kind": self.kind,
            "description": self.description,
            "parameters": self.parameters,
            "requires_approval": self.requires_approval,
        }
        if self.timeout_ms is not None:
            out["timeout_ms"] = self.timeout_ms
        out.update(self.options)
        return out

    def public(self, admin: bool) -> dict[str, Any]:
        """The spec as `GET /v1/tools` shows it: static header values only to the tenant's admins
        (they may hold credentials); secret_headers name secrets, never their values."""
        out = self.to_json()
        if not admin and "headers" in out:
            out["headers"] = {name: MASKED for name in out["headers"]}
        return out

    def openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


# ---------------------------------------------------------------- validation


def _schema_errors(schema: Any, path: str) -> None:
    if not isinstance(schema, dict):
        raise ToolSpecError(path, "must be a JSON schema object")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for item in kinds:
        if item not in JSON_TYPES:
            raise ToolSpecError(f"{path}.type", f"unknown JSON schema type {item!r}")
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise ToolSpecError(f"{path}.properties", "must be an object of schemas")
        for name, sub in properties.items():
            _schema_errors(sub, f"{path}.properties.{name}")
    required = schema.get("required")
    if required is not None:
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise ToolSpecError(f"{path}.required", "must be a list of property names")
        missing = [r for r in required if not isinstance(properties, dict) or r not in properties]
        if missing:
            raise ToolSpecError(f"{path}.required", f"names undeclared properties: {', '.join(missing)}")
    if "items" in schema:
        _schema_errors(schema["items"], f"{path}.items")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise ToolSpecError(f"{path}.enum", "must be a list")


def _parameters(kind: str, value: Any) -> dict[str, Any]:
    if value is None:
        return KIND_PARAMETERS[kind]
    _schema_errors(value, "parameters")
    if value.get("type") != "object":
        raise ToolSpecError("parameters.type", "must be 'object' (tool arguments are a JSON object)")
    declared = value.get("properties") or {}
    for needed in KIND_PARAMETERS[kind]["required"]:
        if needed not in declared:
            raise ToolSpecError("parameters.properties", f"a {kind} tool must declare {needed!r}")
    return dict(value)


def _int(spec: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolSpecError(key, f"must be an integer from {low} to {high}")
    return value


def _strings(spec: Mapping[str, Any], key: str) -> list[str] | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ToolSpecError(key, "must be a list of non-empty strings")
    return value


def _header_map(spec: Mapping[str, Any], key: str) -> dict[str, str] | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ToolSpecError(key, "must be an object of header name -> string")
    for name, item in value.items():
        if not HEADER_NAME.match(name) or name.lower() in FORBIDDEN_HEADERS:
            raise ToolSpecError(f"{key}.{name}", "is not a header a tool may set")
        if not isinstance(item, str) or any(c in item for c in "\r\n"):
            raise ToolSpecError(f"{key}.{name}", "must be a single-line string")
    return {k.lower(): v for k, v in value.items()}


def _http_options(
    spec: Mapping[str, Any], own_hosts: Sequence[str], tool_secrets: Sequence[str]
) -> dict[str, Any]:
    hosts = _strings(spec, "allow_hosts")
    if not hosts:
        raise ToolSpecError("allow_hosts", "an http_get tool needs a non-empty list of hosts")
    for index, pattern in enumerate(hosts):
        probe = "sub." + pattern[2:] if pattern.startswith("*.") else pattern  # a host the pattern matches
        try:
            host = check_host(probe, own_hosts)
        except BlockedUrl as error:
            raise ToolSpecError(f"allow_hosts[{index}]", str(error)) from None
        problem = None if ip_literal(host) else allow_pattern_problem(pattern.lower().rstrip("."))
        if problem:
            raise ToolSpecError(f"allow_hosts[{index}]", problem)
    options: dict[str, Any] = {"allow_hosts": [h.lower().rstrip(".") for h in hosts]}
    size = _int(spec, "max_response_bytes", 1, 4_194_304)
    if size is not None:
        options["max_response_bytes"] = size
    types = _strings(spec, "content_types")
    if types is not None:
        options["content_types"] = [t.lower() for t in types]
    headers = _header_map(spec, "headers")
    if headers:
        options["headers"] = headers
    secrets = _secret_headers(spec, tool_secrets)
    if secrets:
        options["secret_headers"] = secrets
    return options


def _secret_headers(spec: Mapping[str, Any], tool_secrets: Sequence[str]) -> dict[str, str] | None:
    """`secret_headers` (header -> Worker secret), naming only `tool_secrets` (agents.tool_secrets)."""
    secrets = _header_map(spec, "secret_headers")
    for header, secret in (secrets or {}).items():
        if secret not in tool_secrets:
            listed = ", ".join(tool_secrets) or "none"
            raise ToolSpecError(
                f"secret_headers.{header}",
                f"{secret!r} is not a tool secret of this stack (agents.tool_secrets: {listed})",
            )
    return secrets


def _mcp_options(spec: Mapping[str, Any], own_hosts: Sequence[str], tool_secrets: Sequence[str]) -> dict[str, Any]:
    url = spec.get("url")
    if url is None:
        raise ToolSpecError("url", "an mcp tool needs the https URL of a Streamable HTTP MCP server")
    if not isinstance(url, str) or len(url) > 2048:
        raise ToolSpecError("url", "must be a string of at most 2048 characters")
    try:
        target = check_url(url, (url_host(url),), own_hosts)
    except BlockedUrl as error:
        raise ToolSpecError("url", str(error)) from None
    options: dict[str, Any] = {"url": target.url}
    allow = spec.get("allow_tools")
    if allow is not None:
        if not isinstance(allow, list):
            raise ToolSpecError("allow_tools", "must be a list of remote tool names")
        for index, item in enumerate(allow):
            if not isinstance(item, str) or not item:
                raise ToolSpecError(f"allow_tools[{index}]", "must be a non-empty string (a remote tool name)")
        options["allow_tools"] = list(allow)
    timeout = spec.get("timeout_s")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
            raise ToolSpecError("timeout_s", "must be a number of seconds from 0.1 to 120")
        options["timeout_s"] = float(timeout)
    size = _int(spec, "max_response_bytes", 1, 4_194_304)
    if size is not None:
        options["max_response_bytes"] = size
    headers = _header_map(spec, "headers")
    if headers:
        options["headers"] = headers
    secrets = _secret_headers(spec, tool_secrets)
    if secrets:
        options["secret_headers"] = secrets
    return options


def mcp_tool_name(spec_name: str, remote: str) -> str:
    return f"{spec_name}{MCP_SEPARATOR}{remote}"


def parse_tool_spec(
    name: str, spec: Any, own_hosts: Sequence[str] = (), tool_secrets: Sequence[str] = ()
) -> ToolSpec:
    """A validated spec, or ToolSpecError naming the field. `secret_headers` may name only
    `tool_secrets` (agents.tool_secrets): never a provider key, a salt or EDGESTACK_CONFIG."""
    if not TOOL_NAME.match(name):
        raise ToolSpecError("name", "tool names are 1-64 characters from A-Z a-z 0-9 _ -")
    if not isinstance(spec, dict):
        raise ToolSpecError("body", "a tool spec is a JSON object")
    kind = spec.get("kind")
    if kind is None:
        raise ToolSpecError("kind", "is required")
    if kind not in KINDS:
        raise ToolSpecError("kind", f"unknown tool kind {kind!r} (known: {', '.join(KINDS)})")
    allowed = (set(_COMMON) - set(_NOT_FOR_KIND.get(kind, ()))) | set(_KIND_FIELDS[kind])
    for key in spec:
        if key not in allowed:
            raise ToolSpecError(key, f"is not a field of a {kind} tool")
    description = spec.get("description", DEFAULT_DESCRIPTIONS[kind])
    if not isinstance(description, str) or len(description) > 1024:
        raise ToolSpecError("description", "must be a string of at most 1024 characters")
    approval = spec.get("requires_approval", False)
    options: dict[str, Any] = {}
    if kind == "mcp" and isinstance(approval, list):  # a list of remote tool names
        options["approval_tools"] = _strings(spec, "requires_approval")
        approval = False
    elif not isinstance(approval, bool):
        raise ToolSpecError("requires_approval", "must be true or false" + (" or a list of remote tool names" if kind == "mcp" else ""))
    timeout_ms = _int(spec, "timeout_ms", 100, 120_000)
    if kind == "mcp":
        options.update(_mcp_options(spec, own_hosts, tool_secrets))
        timeout_ms = int(options.pop("timeout_s") * 1000) if "timeout_s" in options else None
    elif kind == "http_get":
        options = _http_options(spec, own_hosts, tool_secrets)
    elif kind == "kv_lookup":
        prefix = spec.get("prefix", "")
        if not isinstance(prefix, str) or not LOOKUP_KEY_PREFIX.match(prefix):
            raise ToolSpecError("prefix", "must be at most 128 characters from A-Z a-z 0-9 / _ . : -")
        options = {"prefix": prefix}
    elif kind == "rag_search":
        top_k = _int(spec, "top_k", 1, 50)
        if top_k is not None:
            options["top_k"] = top_k
        mode = spec.get("mode")
        if mode is not None:
            if not isinstance(mode, str):
                raise ToolSpecError("mode", "must be a string")
            options["mode"] = mode
    return ToolSpec(
        name=name,
        kind=kind,
        description=description,
        parameters=_parameters(kind, spec.get("parameters")),
        requires_approval=approval,
        timeout_ms=timeout_ms,
        options=options,
    )


# ---------------------------------------------------------------- storage in KV


def tools_key(tenant: str) -> str:
    return KV_PREFIX + quote(tenant, safe="")


def lookup_key(tenant: str, prefix: str, key: str) -> str:
    return f"{LOOKUP_PREFIX}{quote(tenant, safe='')}/{prefix}{key}"


class ToolRegistry:
    """A tenant's tool specs in KV, with a short per-isolate cache (`ttl_s`, 0 = none).

    Stored specs are validated again when read, against today's `tool_secrets`: a spec stored under
    other rules (or naming a secret no longer listed) is skipped, never sent to the model or run."""

    def __init__(
        self, kv: KvNamespace, ttl_s: float, clock: Callable[[], float], tool_secrets: Sequence[str] = ()
    ) -> None:
        self.kv = kv
        self.ttl_s = ttl_s
        self.clock = clock
        self.tool_secrets = tuple(tool_secrets)

    async def _raw(self, tenant: str) -> dict[str, Any]:
        text = await self.kv.get(tools_key(tenant))
        value = json.loads(text) if text else {}
        return value if isinstance(value, dict) else {}

    async def all(self, tenant: str, *, fresh: bool = False) -> dict[str, ToolSpec]:
        """The tenant's tools; `fresh` skips this isolate's cache (KV itself may still lag)."""
        now = self.clock()
        cache_key = (id(self.kv), tenant)
        cached = _CACHE.get(cache_key)
        if cached is not None and cached[0] > now and self.ttl_s > 0 and not fresh:
            return cached[1]
        specs: dict[str, ToolSpec] = {}
        for name, spec in sorted((await self._raw(tenant)).items()):
            try:
                check_values(spec)  # e.g. a lone surrogate stored before the JSON reader refused it
                specs[name] = parse_tool_spec(name, spec, tool_secrets=self.tool_secrets)
            except (ToolSpecError, JsonBodyError):
                continue  # written by an older version with other rules: skip, never crash a turn
        if self.ttl_s > 0:
            _CACHE[cache_key] = (now + self.ttl_s, specs)
        return specs

    async def put(self, tenant: str, spec: ToolSpec) -> None:
        raw = await self._raw(tenant)
        if spec.name not in raw and len(raw) >= MAX_TOOLS_PER_TENANT:
            raise ToolSpecError("name", f"a tenant may have at most {MAX_TOOLS_PER_TENANT} tools")
        raw[spec.name] = spec.to_json()
        await self.kv.put(tools_key(tenant), json.dumps(raw, separators=(",", ":"), sort_keys=True))
        _CACHE.pop((id(self.kv), tenant), None)

    async def delete(self, tenant: str, name: str) -> bool:
        raw = await self._raw(tenant)
        if name not in raw:
            return False
        del raw[name]
        await self.kv.put(tools_key(tenant), json.dumps(raw, separators=(",", ":"), sort_keys=True))
        _CACHE.pop((id(self.kv), tenant), None)
        return True


# (KV binding, tenant) -> (expires at, specs); per isolate, like the gateway's config cache
_CACHE: dict[tuple[int, str], tuple[float, dict[str, ToolSpec]]] = {}


def clear_cache() -> None:
    _CACHE.clear()
