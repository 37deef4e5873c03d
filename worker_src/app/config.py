"""The Worker's view of its stack: build version and runtime config from plain-text bindings.

The planner ships `EDGESTACK_CONFIG` (JSON of the stack's gateway/rag/agents sections) and
`EDGESTACK_BUNDLE_VERSION` (bundle sha256 prefix) as plain-text bindings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

CONFIG_BINDING = "EDGESTACK_CONFIG"
VERSION_BINDING = "EDGESTACK_BUNDLE_VERSION"
STACK_BINDING = "EDGESTACK_STACK"


@dataclass(frozen=True)
class BuildInfo:
    stack: str
    bundle_version: str


def read_json_config(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"{CONFIG_BINDING} must be a JSON object")
    return value


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

    The fast path is identity: the platform keeps one parsed `EDGESTACK_CONFIG` per isolate. If it
    hands in a fresh (equal) mapping, the canonical JSON text is compared instead of re-parsing.
    A parse that raises one of `errors` is remembered and raised again until the section changes.
    """

    def __init__(
        self, name: str, parse: Callable[[Any], T], errors: tuple[type[Exception], ...] = ()
    ) -> None:
        self._name, self._parse, self._errors = name, parse, errors
        self._source: object = None
        self._text: str | None = None
        self._parsed: T | None = None
        self._error: Exception | None = None

    def get(self, root_config: Mapping[str, Any]) -> T | None:
        """The parsed section, None when the stack has none."""
        section = root_config.get(self._name) if isinstance(root_config, Mapping) else None
        if section is None:
            return None
        if section is not self._source:
            text = json.dumps(section, sort_keys=True, separators=(",", ":"), default=str)
            if text != self._text:
                try:
                    self._parsed, self._error = self._parse(section), None
                except self._errors as error:
                    self._parsed, self._error = None, error
                self._text = text
            self._source = section
        if self._error is not None:
            raise self._error
        return self._parsed
