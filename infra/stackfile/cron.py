"""Cron Trigger expressions as Cloudflare accepts them
(developers.cloudflare.com/workers/configuration/cron-triggers/): five fields, UTC.

| field | values | also |
|---|---|---|
| minute | 0-59 | |
| hour | 0-23 | |
| day of month | 1-31 | `L` (last day), `NW` (weekday nearest day N) |
| month | 1-12 or JAN-DEC | |
| day of week | 1-7 (1 = Sunday) or SUN-SAT | `NL` (last N-day of the month), `N#K` (K-th N-day, K 1-5) |

Every field takes `*`, lists `a,b`, ranges `a-b` and steps `*/n`, `a/n`, `a-b/n`; names are
case-insensitive.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class CronField(NamedTuple):
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] is the value low + i

    def describe(self) -> str:
        span = f"{self.low}-{self.high}"
        if self.names:
            span += f" or {self.names[0]}-{self.names[-1]}"
        return f"{self.name} ({span})"


FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day of month", 1, 31),
    CronField("month", 1, 12, MONTHS),
    CronField("day of week", 1, 7, WEEKDAYS),
)
_RANGE = re.compile(r"^([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?$")


class CronProblem(ValueError):
    """Why a cron item is refused (a phrase; the caller adds the expression)."""


def _value(text: str, field: CronField) -> int:
    if text.isdigit():
        value = int(text)
    elif text.upper() in field.names:
        value = field.low + field.names.index(text.upper())
    else:
        raise CronProblem(f"{text!r} is not a value of {field.describe()}")
    if not field.low <= value <= field.high:
        raise CronProblem(f"{value} is out of range for {field.describe()}")
    return value


def _special(item: str, field: CronField) -> bool:
    """Cloudflare's extensions: L and NW (day of month), NL and N#K (day of week)."""
    upper = item.upper()
    if field.name == "day of month":
        if upper == "L":
            return True
        if upper.endswith("W") and upper[:-1].isdigit():
            _value(upper[:-1], field)
            return True
    if field.name == "day of week":
        if upper.endswith("L") and len(upper) > 1:
            _value(upper[:-1], field)
            return True
        if "#" in upper:
            day, _, nth = upper.partition("#")
            _value(day, field)
            if not (nth.isdigit() and 1 <= int(nth) <= 5):
                raise CronProblem(f"{item!r}: the week number after # must be 1-5")
            return True
    return False


def _check_item(item: str, field: CronField) -> None:
    if not item:
        raise CronProblem(f"empty list item in {field.name}")
    if _special(item, field):
        return
    base, slash, step = item.partition("/")
    if slash and (not step.isdigit() or not 1 <= int(step) <= field.high):
        raise CronProblem(f"step {step!r} in {field.name} must be an integer 1-{field.high}")
    if base == "*":
        return
    match = _RANGE.match(base)
    if match is None:
        raise CronProblem(f"{item!r} is not a value, range or step of {field.describe()}")
    first = _value(match.group(1), field)
    if match.group(2) is not None and _value(match.group(2), field) < first:
        raise CronProblem(f"range {base!r} in {field.name} ends before it starts")


def cron_problem(expression: str) -> str | None:
    """None for an expression Cloudflare accepts, else one line saying what is wrong."""
    parts = expression.split()
    if len(parts) != len(FIELDS):
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)} in {expression!r}"
    try:
        for text, field in zip(parts, FIELDS, strict=True):
            for item in text.split(","):
                _check_item(item, field)
    except CronProblem as problem:
        return f"{problem} in {expression!r}"
    return None
