"""Gateway config for tests, validated by the real stack model (`infra.spec.GatewaySpec`) and dumped
exactly as the planner ships it in `EDGESTACK_CONFIG`
(`model_dump(mode="json", by_alias=True, exclude_none=True)` under the key "gateway").
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from infra.spec import GatewaySpec  # noqa: E402


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def gateway_section(section: dict[str, Any]) -> dict[str, Any]:
    """`{"gateway": ...}` as the Worker receives it; raises pydantic's ValidationError on a bad section."""
    spec = GatewaySpec.model_validate(section)
    return {"gateway": spec.model_dump(mode="json", by_alias=True, exclude_none=True)}
