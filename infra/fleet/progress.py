"""Progress of a fleet run: a live `rich` display on a terminal, plain log lines in CI.

CI means `CI=true` (or `1`) in the environment, or stdout that is not a terminal. Both reporters are
called from the scheduler's worker threads, so they lock (rich's `Progress` locks itself).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import IO, Any, TextIO

from ..terminal import print_table, table_lines
from .scheduler import OUTCOME_HEADERS, FleetRun, Result, StackOutcome, changes_text, outcome_rows

_MARKS = {Result.SUCCEEDED: "ok", Result.FAILED: "FAILED", Result.CANCELLED: "cancelled"}


def is_ci(environ: Mapping[str, str] | None = None, stream: IO[str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    stream = sys.stdout if stream is None else stream
    if environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return True
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def outcome_line(outcome: StackOutcome) -> str:
    line = f"{outcome.stack}: {_MARKS[outcome.result]}"
    if outcome.result is Result.SUCCEEDED:
        line += f" ({changes_text(outcome.changes)}; {outcome.seconds:.1f}s)"
    elif outcome.message:
        line += f": {outcome.message}"
    return line


class PlainReporter:
    """One line per start, resource step and result; for CI logs."""

    def __init__(self, operation: str, total: int, stream: IO[str] | None = None) -> None:
        self.operation = operation
        self.total = total
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()
        self.done = 0

    def _print(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def started(self, stack: str) -> None:
        self._print(f"{stack}: {self.operation} started")

    def progress(self, stack: str, step: str) -> None:
        self._print(f"{stack}: {step}")

    def finished(self, outcome: StackOutcome) -> None:
        with self.lock:
            self.done += 1
            done = self.done
        self._print(f"[{done}/{self.total}] {outcome_line(outcome)}")

    def __enter__(self) -> PlainReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class RichReporter:
    """An overall bar plus one bar per running stack (its total is the stack's planned resources)."""

    def __init__(self, operation: str, expected: Mapping[str, int], console: Any = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress_display = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.expected = expected
        self.overall = self.progress_display.add_task(f"fleet {operation}", total=len(expected))
        self.tasks: dict[str, Any] = {}

    def started(self, stack: str) -> None:
        self.tasks[stack] = self.progress_display.add_task(f"  {stack}", total=self.expected.get(stack))

    def progress(self, stack: str, step: str) -> None:
        task = self.tasks.get(stack)
        if task is not None:
            self.progress_display.update(task, advance=1)

    def finished(self, outcome: StackOutcome) -> None:
        task = self.tasks.pop(outcome.stack, None)
        if task is not None:
            self.progress_display.remove_task(task)
        self.progress_display.advance(self.overall)
        self.progress_display.console.print(outcome_line(outcome), markup=False, highlight=False)

    def __enter__(self) -> RichReporter:
        self.progress_display.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress_display.stop()


def print_summary(run: FleetRun, *, plain: bool, stream: TextIO | None = None) -> None:
    """The final table (customer, result, changes, duration): plain columns in CI, rich otherwise."""
    stream = stream or sys.stdout
    if plain:
        for line in table_lines(OUTCOME_HEADERS, outcome_rows(run)):
            print(line, file=stream)
    else:
        print_table(OUTCOME_HEADERS, outcome_rows(run), stream)
    if run.interrupted:
        print("interrupted: stacks not started were cancelled; the running ones finished", file=stream)
