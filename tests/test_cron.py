"""Cron Trigger expressions: what Cloudflare accepts passes; everything else is one line saying why."""

from __future__ import annotations

import pytest

from infra.stackfile.cron import cron_problem


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "*/5 * * * *",
        "0 0 1 * *",
        "30 7 * * MON-FRI",
        "10 7 * * mon-fri",
        "0 12 * JAN,jul *",
        "0-30/10 8-18 * * 2-6",
        "59 23 L * *",
        "0 9 15W * *",
        "0 9 * * 6L",
        "0 9 * * FRI#2",
        "0 0 31 12 7",
    ],
)
def test_expressions_cloudflare_accepts(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("99 99 99 99 99", "99 is out of range for minute (0-59)"),
        ("0 24 * * *", "24 is out of range for hour (0-23)"),
        ("0 0 0 * *", "0 is out of range for day of month (1-31)"),
        ("0 0 * 13 *", "13 is out of range for month (1-12 or JAN-DEC)"),
        ("0 0 * * 8", "8 is out of range for day of week (1-7 or SUN-SAT)"),
        ("0 0 * * FUN", "'FUN' is not a value of day of week (1-7 or SUN-SAT)"),
        ("0 0 * MON *", "'MON' is not a value of month (1-12 or JAN-DEC)"),
        ("*/0 * * * *", "step '0' in minute must be an integer 1-59"),
        ("*/x * * * *", "step 'x' in minute must be an integer 1-59"),
        ("30-10 * * * *", "range '30-10' in minute ends before it starts"),
        ("1,,2 * * * *", "empty list item in minute"),
        ("0 0 * * MON#6", "'MON#6': the week number after # must be 1-5"),
        ("0 0 L * L#1", "'L' is not a value of day of week"),
        ("0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ],
)
def test_each_refusal_is_one_line_naming_the_field(expression: str, message: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None and problem.startswith(message) and "\n" not in problem
    assert problem.endswith(repr(expression))
