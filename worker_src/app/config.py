"""The Worker's view of its stack: build version and runtime config from plain-text bindings.

The planner ships `EDGESTACK_CONFIG` (`infra/plan/runtime_config.py` documents the shape: a version,
every binding's name and kind, the `worker` section and the gateway/rag/agents/mcp sections, complete
and defaulted; a section is null when the stack has none) and `EDGESTACK_BUNDLE_VERSION` (bundle
sha256 prefix) as plain-text bindings.

The root is parsed here once per isolate; each package parses its own section on first use
(`SectionCache`), with a `Reader`: every parser refuses a missing key, an unknown key and a wrong
type, naming the key path. None has a default of its own: the planner decides them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

T = TypeVar("T")

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


class Reader:
    """Typed access to one JSON object of the config whose keys are exactly `keys`, with the key
    path for error messages."""

    def __init__(self, value: Any, path: str, keys: tuple[str, ...] | None = None) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected an object, got {type(value).__name__}")
        if keys is not None:
            for key in value:
                if key not in keys:
                    raise ConfigError(f"{path}.{key}: unknown key (known: {', '.join(keys)})")
            for key in keys:
                if key not in value:
                    raise ConfigError(f"{path}.{key}: missing")
        self.value = value
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def _get(self, key: str) -> Any:
        if key not in self.value:
            raise ConfigError(f"{self.at(key)}: missing")
        return self.value[key]

    def is_null(self, key: str) -> bool:
        return self._get(key) is None

    def string(self, key: str, choices: tuple[str, ...] = ()) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.at(key)}: expected a non-empty string")
        if choices and value not in choices:
            raise ConfigError(f"{self.at(key)}: must be one of {', '.join(choices)}; got {value!r}")
        return value

    def optional_string(self, key: str) -> str | None:
        return None if self.is_null(key) else self.string(key)

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.at(key)}: expected true or false")
        return value

    def integer(self, key: str, minimum: int = 0) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.at(key)}: expected an integer")
        if value < minimum:
            raise ConfigError(f"{self.at(key)}: must be >= {minimum}")
        return value

    def optional_integer(self, key: str, minimum: int = 0) -> int | None:
        return None if self.is_null(key) else self.integer(key, minimum)

    def number(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{self.at(key)}: expected a number >= 0")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        return None if self.is_null(key) else self.number(key)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.at(key)}: expected a list of strings")
        return tuple(value)

    def child(self, key: str, keys: tuple[str, ...]) -> Reader:
        return Reader(self._get(key), self.at(key), keys)

    def items(self, key: str) -> list[tuple[str, Any]]:
        value = self._get(key)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.at(key)}: expected an object")
        return list(value.items())


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
    root = Reader(value, CONFIG_BINDING)
    version = root.value.get("version")
    if version != CONFIG_VERSION:
        raise ConfigError(
            f"{CONFIG_BINDING}.version: {version!r}, but this Worker reads version {CONFIG_VERSION}; "
            "deploy the Worker and its config from the same edgestack release"
        )
    root = Reader(value, CONFIG_BINDING, ROOT_KEYS)
    bindings: dict[str, str] = {}
    for name, kind in root.items("bindings"):
        if kind not in BINDING_KINDS:
            raise ConfigError(f"{root.at('bindings')}.{name}: unknown kind {kind!r}")
        bindings[name] = kind
    worker = root.child("worker", WorkerConfig._fields)
    sections = {}
    for name in SECTIONS:
        section = root.value[name]
        if section is not None and not isinstance(section, Mapping):
            raise ConfigError(f"{root.at(name)}: expected an object or null")
        sections[name] = section
    by_kind: dict[str, tuple[str, ...]] = {}
    for name in sorted(bindings):
        by_kind[bindings[name]] = (*by_kind.get(bindings[name], ()), name)
    return RuntimeConfig(bindings, WorkerConfig(demo_route=worker.boolean("demo_route")), sections, None, by_kind)


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


class SectionCache(Generic[T]):
    """Parses one section of `EDGESTACK_CONFIG` (`gateway`, `rag`, `agents`) once per isolate.

    The fast path is identity: the isolate keeps one parsed `EDGESTACK_CONFIG` (`ParsedOnce`). If
    it hands in a fresh (equal) section, the canonical JSON text is compared instead of re-parsing.
    A `ConfigError` (of the section or of the root) is remembered and raised again until the section
    changes.
    """

    def __init__(self, name: str, parse: Callable[[Any], T]) -> None:
        self._name, self._parse = name, parse
        self._source: object = None
        self._text: str | None = None
        self._parsed: T | None = None
        self._error: ConfigError | None = None

    def get(self, config: RuntimeConfig) -> T | None:
        """The parsed section, None when the stack has none."""
        if config.error is not None:
            raise ConfigError(config.error)
        section = config.sections[self._name]
        if section is None:
            return None
        if section is not self._source:
            text = json.dumps(section, sort_keys=True, separators=(",", ":"), default=str)
            if text != self._text:
                try:
                    self._parsed, self._error = self._parse(section), None
                except ConfigError as error:
                    self._parsed, self._error = None, error
                self._text = text
            self._source = section
        if self._error is not None:
            raise self._error
        return self._parsed
