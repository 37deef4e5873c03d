"""The Worker's view of its stack: build version and runtime config from plain-text bindings.

The planner ships `EDGESTACK_CONFIG` (JSON of the stack's gateway/rag/agents sections) and
`EDGESTACK_BUNDLE_VERSION` (bundle sha256 prefix) as plain-text bindings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
