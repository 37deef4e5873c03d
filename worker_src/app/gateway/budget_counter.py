"""The counter of one budget for one subject (a key, a tenant, the stack): the `BudgetCounter`
Durable Object's logic, over its SQLite storage.

Consistency: one object per (budget, subject), so every request that spends against it goes through
this one single-threaded object. Each operation is one synchronous `transactionSync` with no await
inside, so a reservation's check (spent + held + amount <= limit) and its write cannot interleave
with another request's: under any concurrency, the holds admitted never add up past the limit. What
can pass the limit is the difference between a request's reserved maximum and its settled real cost
when the estimate was low (the prompt estimate is 4 characters per token): at most one request's
error, not one per request in flight.

Holds of requests that never settled (an isolate killed mid-request) expire after `HOLD_TTL_MS`.
The window rolls on the first operation after it ends: spent and fired alerts start again at zero;
holds in flight carry over (they settle into the window they end in).

Wire format: `POST /budget` with a JSON body `{"op": "reserve" | "settle" | "state", ...}`.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ..http import HttpRequest, HttpResponse

HOLD_TTL_MS = 15 * 60 * 1000  # longer than any request may run (Workers: 5 min CPU, 15 min alarms)
EPSILON_USD = 1e-9

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS budget_window (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "start_ms INTEGER NOT NULL, spent REAL NOT NULL, held REAL NOT NULL, alerts TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS budget_holds (id TEXT PRIMARY KEY, amount REAL NOT NULL, created_ms INTEGER NOT NULL)",
)


class SqlStorage(Protocol):
    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]: ...
    def transaction(self, work: Any) -> Any: ...


class BudgetCounterObject:
    def __init__(self, storage: SqlStorage) -> None:
        self.storage = storage
        self._ready = False

    async def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            body = json.loads(request.body)
            op = body["op"]
            window = int(body["window"])
            now = int(body["now"])
        except (ValueError, KeyError, TypeError):
            return HttpResponse.json({"error": "expected a JSON body with op, window and now"}, status=400)
        operation = {"reserve": self._reserve, "settle": self._settle, "state": self._state}.get(op)
        if operation is None:
            return HttpResponse.json({"error": f"unknown op {op!r}"}, status=400)
        try:
            result = self.storage.transaction(lambda: operation(body, window, now))
        except (KeyError, TypeError, ValueError) as error:
            return HttpResponse.json({"error": f"bad {op} request: {error}"}, status=400)
        return HttpResponse.json(result)

    # --- inside one transaction each ---

    def _open(self, window: int) -> dict[str, Any]:
        """The window's row (`spent`, `held`, `alerts`), rolled over when `window` is newer."""
        if not self._ready:
            for statement in _SCHEMA:
                self.storage.sql(statement)
            self._ready = True
        rows = self.storage.sql("SELECT start_ms, spent, held, alerts FROM budget_window WHERE id = 1")
        if rows and int(rows[0]["start_ms"]) >= window:
            return dict(rows[0])
        held = float(rows[0]["held"]) if rows else 0.0  # holds in flight carry over
        self.storage.sql(
            "INSERT INTO budget_window (id, start_ms, spent, held, alerts) VALUES (1, ?, 0, ?, '') "
            "ON CONFLICT (id) DO UPDATE SET start_ms = excluded.start_ms, spent = 0, alerts = ''",
            window,
            held,
        )
        return {"start_ms": window, "spent": 0.0, "held": held, "alerts": ""}

    def _expire(self, now: int, held: float) -> float:
        """Drop holds older than `HOLD_TTL_MS`; the held amount that is left. Only run when a hold
        matters (a refusal, a state read): admitting never needs it."""
        gone = self.storage.sql(
            "DELETE FROM budget_holds WHERE created_ms < ? RETURNING amount", now - HOLD_TTL_MS
        )
        if not gone:
            return held
        held = max(0.0, held - sum(float(r["amount"]) for r in gone))
        self.storage.sql("UPDATE budget_window SET held = ? WHERE id = 1", held)
        return held

    def _reserve(self, body: dict[str, Any], window: int, now: int) -> dict[str, Any]:
        hold_id, amount, limit = str(body["id"]), float(body["amount"]), float(body["limit"])
        hard = bool(body["hard"])
        row = self._open(window)
        spent, held = float(row["spent"]), float(row["held"])
        if hard and spent + held + amount > limit + EPSILON_USD:
            held = self._expire(now, held)
            if spent + held + amount > limit + EPSILON_USD:
                return {
                    "ok": False,
                    "spent": spent,
                    "reserved": held,
                    "remaining": max(0.0, limit - spent - held),
                }
        self.storage.sql(
            "INSERT INTO budget_holds (id, amount, created_ms) VALUES (?, ?, ?)", hold_id, amount, now
        )
        held += amount
        self.storage.sql("UPDATE budget_window SET held = ? WHERE id = 1", held)
        return {"ok": True, "spent": spent, "reserved": held, "remaining": max(0.0, limit - spent - held)}

    def _settle(self, body: dict[str, Any], window: int, now: int) -> dict[str, Any]:
        hold_id, actual, limit = str(body["id"]), float(body["actual"]), float(body["limit"])
        alert_at = body.get("alert_at") or []
        row = self._open(window)
        released = self.storage.sql("DELETE FROM budget_holds WHERE id = ? RETURNING amount", hold_id)
        held = max(0.0, float(row["held"]) - (float(released[0]["amount"]) if released else 0.0))
        spent = float(row["spent"]) + max(0.0, actual)
        fired = {a for a in str(row["alerts"]).split(",") if a}
        due = [
            float(a)
            for a in alert_at
            if spent >= float(a) * limit - EPSILON_USD and repr(float(a)) not in fired
        ]
        fired.update(repr(a) for a in due)
        self.storage.sql(
            "UPDATE budget_window SET spent = ?, held = ?, alerts = ? WHERE id = 1",
            spent,
            held,
            ",".join(sorted(fired)),
        )
        return {"spent": spent, "reserved": held, "remaining": max(0.0, limit - spent - held), "alerts": due}

    def _state(self, body: dict[str, Any], window: int, now: int) -> dict[str, Any]:
        row = self._open(window)
        return {"spent": float(row["spent"]), "reserved": self._expire(now, float(row["held"]))}
