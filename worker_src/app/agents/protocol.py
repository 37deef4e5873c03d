"""What the Worker sends an agent's Durable Object: one JSON envelope per request.

The object's name is derived from (tenant, agent_id), so two tenants using the same agent id never
share an object; the object also stores its (tenant, agent_id) and refuses any other.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, NamedTuple

from ..web.jsonbody import read_json

AGENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OBJECT_PATH = "/agents/call"
Op = Literal["message", "get", "approve", "delete"]
OPS: tuple[str, ...] = ("message", "get", "approve", "delete")


def object_name(tenant: str, agent_id: str) -> str:
    """Unambiguous for any tenant string (a JSON array, not a joined string)."""
    return json.dumps(["agent", tenant, agent_id], separators=(",", ":"), ensure_ascii=False)


class AgentCall(NamedTuple):
    op: Op
    tenant: str
    agent_id: str
    key: str | None  # the caller's virtual key name (None: anonymous on a public stack)
    content: str | None = None
    stream: bool = False
    call_id: str | None = None
    approve: bool | None = None
    reason: str | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(self._asdict(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> AgentCall:
        """Raises ValueError on anything the Worker would never send."""
        data: Any = read_json(body, what="agent call")
        if not isinstance(data, dict) or data.get("op") not in OPS:
            raise ValueError("not an agent call")
        tenant, agent_id = data.get("tenant"), data.get("agent_id")
        if not isinstance(tenant, str) or not tenant or not isinstance(agent_id, str):
            raise ValueError("agent call without tenant or agent_id")
        if not AGENT_ID.match(agent_id):
            raise ValueError("invalid agent_id")
        fields: dict[str, Any] = {k: data.get(k) for k in cls._fields if k in data}
        return cls(**fields)
