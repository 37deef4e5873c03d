"""The Worker's view of its stack: build version and runtime config from plain-text bindings.

The planner ships `EDGESTACK_CONFIG` (JSON of the stack's gateway/rag/agents sections) and
`EDGESTACK_BUNDLE_VERSION` (bundle sha256 prefix) as plain-text bindings.
"""

from __future__ import annotations

import json
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
