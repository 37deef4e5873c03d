"""The Worker's view of its stack: build version and runtime config from plain-text bindings.

The planner ships `EDGESTACK_CONFIG` (`infra/plan/runtime_config.py` documents the shape: a version,
every binding's name and kind, the `worker` section and the gateway/rag/agents/mcp sections, complete
and defaulted; a section is null when the stack has none) and `EDGESTACK_BUNDLE_VERSION` (bundle
sha256 prefix) as plain-text bindings.

The root is parsed here once per isolate; each package parses its own section on first use
(`app.sections`: `SectionCache`, with a `Reader`; not imported at start-up): every parser refuses a missing key, an unknown key and a wrong
type, naming the key path. None has a default of its own: the planner decides them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

CONFIG_BINDING = "EDGESTACK_CONFIG"
VERSION_BINDING = "EDGESTACK_BUNDLE_VERSION"
STACK_BINDING = "EDGESTACK_STACK"
CONFIG_VERSION = 1  # the `version` this Worker reads (infra.plan.runtime_config.CONFIG_VERSION)
SECTIONS = ("gateway", "rag", "agents", "mcp")
ROOT_KEYS = ("version", "bindings", "worker", *SECTIONS)
# Binding kinds, as the planner names them (`kind` of each binding type in infra/plan/worker_model.py).
BINDING_KINDS = (
    "kv",
    "d1",
    "r2",
    "vectorize",
    "queue",
    "durable_object",
    "ai",
    "rate_limit",
    "secret",
    "plain_text",
)


@dataclass(frozen=True)
class BuildInfo:
    stack: str
    bundle_version: str


class ConfigError(ValueError):
    """`EDGESTACK_CONFIG` is unusable; the message names the key path."""


def config_object(value: Any, path: str, keys: tuple[str, ...] | None = None) -> Mapping[str, Any]:
    """`value`, checked to be a JSON object whose keys are exactly `keys` (any keys when None)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected an object, got {type(value).__name__}")
    if keys is not None:
        for key in value:
            if key not in keys:
                raise ConfigError(f"{path}.{key}: unknown key (known: {', '.join(keys)})")
        for key in keys:
            if key not in value:
                raise ConfigError(f"{path}.{key}: missing")
    return value


class WorkerConfig(NamedTuple):
    """The `worker` section: the stack file's worker settings the Worker itself reads."""

    demo_route: bool


class RuntimeConfig(NamedTuple):
    """`EDGESTACK_CONFIG`, its root parsed. `sections` holds gateway/rag/agents as shipped (an object,
    or None when the stack has none), each parsed by its package on first use (`SectionCache`).
    `error` is why the config is unusable; then every route but /healthz answers 503."""

    bindings: Mapping[str, str]  # NAME -> kind, every binding of the upload
    worker: WorkerConfig
    sections: Mapping[str, Any]
    error: str | None = None
    by_kind: Mapping[str, tuple[str, ...]] = {}  # kind -> its names, sorted (derived from `bindings`)

    def names(self, kind: str) -> tuple[str, ...]:
        """The declared bindings of one kind, in name order."""
        return self.by_kind.get(kind, ())


def parse_runtime_config(raw: str | None) -> RuntimeConfig:
    """The root of `EDGESTACK_CONFIG`; raises `ConfigError` naming the key path."""
    try:
        value = json.loads(raw or "")
    except ValueError:
        raise ConfigError(f"{CONFIG_BINDING}: not JSON (is the binding set?)") from None
    version = config_object(value, CONFIG_BINDING).get("version")
    if version != CONFIG_VERSION:
        raise ConfigError(
            f"{CONFIG_BINDING}.version: {version!r}, but this Worker reads version {CONFIG_VERSION}; "
            "deploy the Worker and its config from the same edgestack release"
        )
    root = config_object(value, CONFIG_BINDING, ROOT_KEYS)
    bindings: dict[str, str] = {}
    for name, kind in config_object(root["bindings"], f"{CONFIG_BINDING}.bindings").items():
        if kind not in BINDING_KINDS:
            raise ConfigError(f"{CONFIG_BINDING}.bindings.{name}: unknown kind {kind!r}")
        bindings[name] = kind
    worker = config_object(root["worker"], f"{CONFIG_BINDING}.worker", WorkerConfig._fields)
    if not isinstance(worker["demo_route"], bool):
        raise ConfigError(f"{CONFIG_BINDING}.worker.demo_route: expected true or false")
    sections = {}
    for name in SECTIONS:
        section = root[name]
        if section is not None and not isinstance(section, Mapping):
            raise ConfigError(f"{CONFIG_BINDING}.{name}: expected an object or null")
        sections[name] = section
    by_kind: dict[str, tuple[str, ...]] = {}
    for name in sorted(bindings):
        by_kind[bindings[name]] = (*by_kind.get(bindings[name], ()), name)
    return RuntimeConfig(bindings, WorkerConfig(demo_route=worker["demo_route"]), sections, None, by_kind)


def load_runtime_config(raw: str | None) -> RuntimeConfig:
    """`parse_runtime_config`, with an unusable config kept as `RuntimeConfig.error` (never raises)."""
    try:
        return parse_runtime_config(raw)
    except ConfigError as error:
        return RuntimeConfig({}, WorkerConfig(demo_route=False), dict.fromkeys(SECTIONS), str(error))


class ParsedOnce:
    """Parses a binding's raw text once per isolate: the parse of the latest raw string is kept,
    and reused while the binding holds the same text (a new deploy or reload brings new text)."""

    def __init__(self, parse: Callable[[str | None], Any]) -> None:
        self._parse = parse
        self._raw: str | None = None
        self._value: Any = None
        self._parsed = False

    def __call__(self, raw: str | None) -> Any:
        if not self._parsed or raw != self._raw:
            value = self._parse(raw)  # raises before anything is cached
            self._raw, self._value, self._parsed = raw, value, True
        return self._value
