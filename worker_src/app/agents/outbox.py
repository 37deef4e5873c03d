"""Replicates an agent's outbox (its SQLite) to D1 `agent_messages`, without loss or duplicates.

Each outbox row was written in the same transaction as its message. A flush sends the oldest rows
as one D1 batch of `INSERT ... ON CONFLICT(id) DO NOTHING` (idempotent by message id), and only
then deletes them from the outbox. A crash between the two re-sends rows D1 already has: the
conflict clause makes that a no-op. A failed batch leaves the outbox as it was and records a retry
time with exponential backoff (2 s, 4 s, ... 5 min); the object's alarm replays it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from ..bindings import D1Database
from ..web.log import log_event
from .store import AgentStore

BATCH_ROWS = 50  # 9 bound parameters per row; D1 allows 100 per statement, batches of many statements
MAX_BACKOFF_S = 300
STATE_KEY = "outbox_retry"

INSERT_SQL = (
    "INSERT INTO agent_messages (id, tenant, agent_id, seq, role, content, tool_calls, tool_call_id, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING"
)


class OutboxState(NamedTuple):
    pending: int
    failures: int
    retry_at_ms: float | None


def outbox_state(store: AgentStore) -> OutboxState:
    saved: Any = store.meta_json(STATE_KEY) or {}
    return OutboxState(store.outbox_size(), int(saved.get("failures", 0)), saved.get("retry_at_ms"))


def insert_statement(payload: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    return INSERT_SQL, (
        payload["id"],
        payload["tenant"],
        payload["agent_id"],
        payload["seq"],
        payload["role"],
        payload.get("content"),
        payload.get("tool_calls"),
        payload.get("tool_call_id"),
        payload["created_at"],
    )


async def flush_outbox(store: AgentStore, db: D1Database | None, clock: Callable[[], float]) -> bool:
    """Send the whole outbox; True when it is empty afterwards. Never raises."""
    if db is None:
        return False
    while True:
        rows = store.outbox(BATCH_ROWS)
        if not rows:
            store.delete_meta(STATE_KEY)
            return True
        try:
            await db.batch([insert_statement(payload) for _, payload in rows])
        except Exception as error:  # D1 unavailable or refusing: keep the rows, retry later
            failures = outbox_state(store).failures + 1
            delay_s = min(MAX_BACKOFF_S, 2**failures)
            retry_at_ms = (clock() + delay_s) * 1000
            store.set_meta(STATE_KEY, json.dumps({"failures": failures, "retry_at_ms": retry_at_ms}))
            log_event(
                "agents",
                "agent_outbox_failed",
                failures=failures,
                retry_in_s=delay_s,
                error=type(error).__name__,
                detail=str(error)[:200],
            )
            return False
        store.outbox_done(rows[-1][0])
