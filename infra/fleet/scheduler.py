"""Run one operation over many stacks with bounded concurrency: the pure core of `fleet preview|up|...`.

The stack operation itself is an injected `Runner` (the Automation API layer in production, plain
functions in tests), so the scheduling rules are tested without an engine:

* at most `concurrency` stacks run at once, started in the given order;
* a failure without `continue_on_error` stops new starts; the running stacks finish;
* Ctrl-C (SIGINT, or `stop` set by the caller) does the same: stacks not started are cancelled, the
  running ones are waited for, and the partial result is returned with `interrupted=True`.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

# Reports one progress step of a running stack (e.g. "create cloudflare:index/d1Database ...").
ProgressFn = Callable[[str], None]
# Runs one stack's operation; returns the change counts ({"create": 3, "same": 12}); raises on failure.
Runner = Callable[[str, ProgressFn], Mapping[str, int]]

_POLL_S = 0.2


class Result(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # never started (interrupted, or an earlier stack failed)


@dataclass(frozen=True)
class StackOutcome:
    stack: str
    result: Result
    changes: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""


class Reporter(Protocol):
    def started(self, stack: str) -> None: ...
    def progress(self, stack: str, step: str) -> None: ...
    def finished(self, outcome: StackOutcome) -> None: ...


class SilentReporter:
    def started(self, stack: str) -> None:
        pass

    def progress(self, stack: str, step: str) -> None:
        pass

    def finished(self, outcome: StackOutcome) -> None:
        pass


@dataclass(frozen=True)
class FleetRun:
    outcomes: tuple[StackOutcome, ...]  # in the order the stacks were given
    interrupted: bool

    @property
    def failed(self) -> tuple[StackOutcome, ...]:
        return tuple(o for o in self.outcomes if o.result is Result.FAILED)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


def failure_message(exc: BaseException) -> str:
    """The last non-empty line of the error (engine errors end with the reason), or its type."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _run_one(runner: Runner, stack: str, reporter: Reporter, clock: Callable[[], float]) -> StackOutcome:
    started = clock()
    try:
        changes = runner(stack, lambda step: reporter.progress(stack, step))
    except Exception as exc:  # one stack's failure is a result, not a crash of the fleet run
        return StackOutcome(stack, Result.FAILED, {}, clock() - started, failure_message(exc))
    return StackOutcome(stack, Result.SUCCEEDED, dict(changes), clock() - started)


@contextmanager
def sigint_sets(stop: threading.Event) -> Iterator[None]:
    """While inside, Ctrl-C sets `stop` instead of raising KeyboardInterrupt (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_fleet(
    stacks: Sequence[str],
    runner: Runner,
    *,
    concurrency: int = 4,
    continue_on_error: bool = False,
    reporter: Reporter | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FleetRun:
    if concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1, got {concurrency}")
    reporter = reporter or SilentReporter()
    stop = stop or threading.Event()
    pending = deque(stacks)
    outcomes: dict[str, StackOutcome] = {}
    halted_by: str | None = None
    with sigint_sets(stop), ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fleet") as pool:
        running: dict[Future[StackOutcome], str] = {}
        while pending or running:
            while pending and len(running) < concurrency and halted_by is None and not stop.is_set():
                stack = pending.popleft()
                reporter.started(stack)
                running[pool.submit(_run_one, runner, stack, reporter, clock)] = stack
            if not running:
                break
            done, _ = wait(running, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                outcome = future.result()
                outcomes[outcome.stack] = outcome
                reporter.finished(outcome)
                if outcome.result is Result.FAILED and not continue_on_error and halted_by is None:
                    halted_by = outcome.stack
    interrupted = stop.is_set()
    reason = "interrupted" if interrupted else f"{halted_by} failed (use --continue-on-error to go on)"
    for stack in pending:
        outcome = StackOutcome(stack, Result.CANCELLED, message=f"not started: {reason}")
        outcomes[stack] = outcome
        reporter.finished(outcome)
    return FleetRun(tuple(outcomes[s] for s in stacks), interrupted)


def changes_text(changes: Mapping[str, int]) -> str:
    """`{"create": 2, "same": 9}` -> `create 2, same 9` (operations with a count, sorted)."""
    if not changes:
        return "-"
    parts = [f"{op} {count}" for op, count in sorted(changes.items()) if count]
    return ", ".join(parts) or "none"


OUTCOME_HEADERS = ("CUSTOMER", "RESULT", "CHANGES", "DURATION")


def outcome_rows(run: FleetRun) -> list[tuple[str, ...]]:
    """The final summary's rows under `OUTCOME_HEADERS`."""
    return [
        (
            o.stack,
            o.result.value + (f": {o.message}" if o.message else ""),
            changes_text(o.changes),
            f"{o.seconds:.1f}s" if o.result is not Result.CANCELLED else "-",
        )
        for o in run.outcomes
    ]
