"""The BudgetCounter object's logic (`app.gateway.budget_counter`) and the window and subject rules
of `app.gateway.budgets`, without HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from app.gateway.budget_counter import HOLD_TTL_MS, BudgetCounterObject
from app.gateway.budgets import subject_of, window_of
from app.gateway.config import Budget
from app.http import HttpRequest
from app.web.auth import Principal
from gateway_testing import PLAIN_KEY, run
from harness.bindings import FakeObjectStorage

DAY_MS = 86_400_000


def call(counter: BudgetCounterObject, **body: Any) -> tuple[int, dict[str, Any]]:
    request = HttpRequest(
        method="POST", url="https://do.internal/budget", headers={}, body=json.dumps(body).encode()
    )
    response = run(counter.handle(request))
    return response.status, json.loads(response.body)


def reserve(
    counter: BudgetCounterObject,
    hold: str,
    amount: float,
    *,
    now: int = 1000,
    window: int = 0,
    hard: bool = True,
) -> dict[str, Any]:
    return call(counter, op="reserve", window=window, now=now, id=hold, amount=amount, limit=1.0, hard=hard)[
        1
    ]


def settle(
    counter: BudgetCounterObject,
    hold: str,
    actual: float,
    *,
    now: int = 2000,
    window: int = 0,
    alert_at: list[float] | None = None,
) -> dict[str, Any]:
    return call(
        counter,
        op="settle",
        window=window,
        now=now,
        id=hold,
        actual=actual,
        limit=1.0,
        alert_at=alert_at or [],
    )[1]


def test_holds_count_against_the_limit_until_settled() -> None:
    counter = BudgetCounterObject(FakeObjectStorage())
    assert reserve(counter, "a", 0.6)["ok"] is True
    refused = reserve(counter, "b", 0.6)
    assert refused == {"ok": False, "spent": 0.0, "reserved": 0.6, "remaining": 0.4}
    assert settle(counter, "a", 0.1) == {"spent": 0.1, "reserved": 0.0, "remaining": 0.9, "alerts": []}
    assert reserve(counter, "b", 0.6)["ok"] is True  # the unused 0.5 went back


def test_a_soft_counter_admits_past_the_limit() -> None:
    counter = BudgetCounterObject(FakeObjectStorage())
    assert reserve(counter, "a", 2.0, hard=False) == {
        "ok": True,
        "spent": 0.0,
        "reserved": 2.0,
        "remaining": 0.0,
    }


def test_a_hold_that_never_settles_expires() -> None:
    counter = BudgetCounterObject(FakeObjectStorage())
    reserve(counter, "lost", 1.0, now=1000)
    assert reserve(counter, "b", 0.5, now=1000 + HOLD_TTL_MS - 1)["ok"] is False
    assert reserve(counter, "b", 0.5, now=1001 + HOLD_TTL_MS)["ok"] is True


def test_a_new_window_starts_from_zero_and_alerts_fire_once_per_window() -> None:
    counter = BudgetCounterObject(FakeObjectStorage())
    reserve(counter, "a", 0.6)
    assert settle(counter, "a", 0.6, alert_at=[0.5, 0.9])["alerts"] == [0.5]
    reserve(counter, "b", 0.1)
    assert settle(counter, "b", 0.1, alert_at=[0.5, 0.9])["alerts"] == []  # 0.5 already fired
    reserve(counter, "c", 0.9, now=DAY_MS + 10, window=DAY_MS)
    new_window = settle(counter, "c", 0.9, now=DAY_MS + 20, window=DAY_MS, alert_at=[0.5, 0.9])
    assert (new_window["spent"], new_window["reserved"], new_window["alerts"]) == (0.9, 0.0, [0.5, 0.9])


def test_bad_requests_are_400() -> None:
    counter = BudgetCounterObject(FakeObjectStorage())
    assert call(counter, op="reserve", window=0)[0] == 400
    assert call(counter, op="steal", window=0, now=0)[0] == 400
    assert call(counter, op="reserve", window=0, now=0, id="x")[0] == 400


def budget(**fields: Any) -> Budget:
    base: dict[str, Any] = {
        "name": "b",
        "scope": "key",
        "match": None,
        "limit_usd": 1.0,
        "window": "day",
        "hard": True,
    }
    return Budget(**{**base, **fields})


def test_windows_are_utc_days_and_calendar_months() -> None:
    moment = datetime(2026, 12, 31, 18, 30, tzinfo=UTC).timestamp()
    day = window_of(budget(window="day"), moment)
    month = window_of(budget(window="month"), moment)
    assert (day.start_s, day.end_s) == (
        datetime(2026, 12, 31, tzinfo=UTC).timestamp(),
        datetime(2027, 1, 1, tzinfo=UTC).timestamp(),
    )
    assert (month.start_s, month.end_s) == (
        datetime(2026, 12, 1, tzinfo=UTC).timestamp(),
        datetime(2027, 1, 1, tzinfo=UTC).timestamp(),
    )


def test_which_counter_covers_a_caller() -> None:
    alice = Principal(PLAIN_KEY._replace(name="alice", sha256="a" * 64, scope="acme"))
    anonymous = Principal(None)
    assert subject_of(budget(), alice) == "key:alice"
    assert subject_of(budget(match="bob"), alice) is None
    assert subject_of(budget(scope="tenant"), alice) == "tenant:acme"
    assert subject_of(budget(scope="tenant", match="globex"), alice) is None
    assert subject_of(budget(scope="stack"), anonymous) == "stack"
    assert subject_of(budget(), anonymous) is None
