"""The fleet scheduler's rules (bounded concurrency, stop on first failure, --continue-on-error, Ctrl-C),
tested with plain runner functions in place of the Automation API; no engine, no timing."""

from __future__ import annotations

import io
import signal
import threading
from collections.abc import Iterator, Mapping

import pytest

from infra.fleet.progress import PlainReporter, RichReporter, is_ci, print_summary
from infra.fleet.scheduler import ProgressFn, Result, StackOutcome, run_fleet

STACKS = [f"customer-{c}" for c in "abcdefgh"]


class Recorder:
    """A runner that records starts and the peak number of stacks running at once."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started: list[str] = []

    def __call__(self, stack: str, progress: ProgressFn) -> Mapping[str, int]:
        with self.lock:
            self.started.append(stack)
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            progress(f"create thing {stack}")
            if stack in self.fail:
                raise RuntimeError(f"error: something broke\n  in {stack}: quota exceeded")
            return {"create": 2, "same": 5}
        finally:
            with self.lock:
                self.running -= 1


def test_every_stack_runs_once_in_order_with_its_changes() -> None:
    runner = Recorder()
    run = run_fleet(STACKS, runner, concurrency=1)
    assert runner.started == STACKS
    assert [o.stack for o in run.outcomes] == STACKS
    assert all(o.result is Result.SUCCEEDED and o.changes == {"create": 2, "same": 5} for o in run.outcomes)
    assert (run.exit_code, run.interrupted) == (0, False)


def test_concurrency_is_bounded_and_reached() -> None:
    """Three stacks block until three are running at once; a fourth would exceed the bound."""
    barrier = threading.Barrier(3, timeout=30)
    runner = Recorder()

    def blocking(stack: str, progress: ProgressFn) -> Mapping[str, int]:
        if stack in STACKS[:3]:
            barrier.wait()  # passes only if the first three run at the same time
        return runner(stack, progress)

    run = run_fleet(STACKS, blocking, concurrency=3)
    assert runner.peak <= 3
    assert all(o.result is Result.SUCCEEDED for o in run.outcomes)


def test_first_failure_stops_new_starts_and_running_stacks_finish() -> None:
    release = threading.Event()

    def runner(stack: str, progress: ProgressFn) -> Mapping[str, int]:
        if stack == "customer-a":
            raise RuntimeError("boom")
        if stack == "customer-b":
            assert release.wait(30)  # still running when a fails
        return {"update": 1}

    class ReleaseOnFailure:
        def started(self, stack: str) -> None: ...
        def progress(self, stack: str, step: str) -> None: ...
        def finished(self, outcome: StackOutcome) -> None:
            if outcome.result is Result.FAILED:
                release.set()

    run = run_fleet(STACKS, runner, concurrency=2, reporter=ReleaseOnFailure())
    results = {o.stack: o.result for o in run.outcomes}
    assert results["customer-a"] is Result.FAILED
    assert results["customer-b"] is Result.SUCCEEDED
    assert {results[s] for s in STACKS[2:]} == {Result.CANCELLED}
    assert run.outcomes[2].message == "not started: customer-a failed (use --continue-on-error to go on)"
    assert run.exit_code == 1


def test_continue_on_error_runs_everything_and_still_fails() -> None:
    runner = Recorder(fail={"customer-c", "customer-f"})
    run = run_fleet(STACKS, runner, concurrency=2, continue_on_error=True)
    assert sorted(runner.started) == STACKS
    assert [o.stack for o in run.failed] == ["customer-c", "customer-f"]
    assert run.failed[0].message == "in customer-c: quota exceeded"  # the engine error's last line
    assert run.exit_code == 1


@pytest.fixture
def sigint_handled() -> Iterator[None]:
    """Python's own SIGINT handler, as in a terminal, also when pytest started with SIGINT ignored
    (`scripts/test &` from a script), which Python then leaves ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_handled")
def test_ctrl_c_cancels_unstarted_stacks_and_waits_for_running_ones() -> None:
    """A real SIGINT, raised while two stacks run: both finish, nothing else starts, exit 130."""
    stop = threading.Event()
    both_running = threading.Barrier(2, timeout=30)

    def runner(stack: str, progress: ProgressFn) -> Mapping[str, int]:
        both_running.wait()
        if stack == "customer-a":
            signal.raise_signal(signal.SIGINT)  # the handler runs in the main thread
        assert stop.wait(30)  # every running stack outlives the interrupt
        return {"same": 1}

    run = run_fleet(STACKS, runner, concurrency=2, stop=stop)
    results = [o.result for o in run.outcomes]
    assert results[:2] == [Result.SUCCEEDED, Result.SUCCEEDED]
    assert set(results[2:]) == {Result.CANCELLED}
    assert run.outcomes[-1].message == "not started: interrupted"
    assert (run.interrupted, run.exit_code) == (True, 130)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="--concurrency must be at least 1, got 0"):
        run_fleet(STACKS, Recorder(), concurrency=0)


def test_plain_reporter_prints_log_lines_and_summary() -> None:
    stream = io.StringIO()
    runner = Recorder(fail={"customer-b"})
    with PlainReporter("up", 3, stream) as reporter:
        run = run_fleet(STACKS[:3], runner, concurrency=1, reporter=reporter)
    print_summary(run, plain=True, stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines[:3] == ["customer-a: up started", "customer-a: create thing customer-a", lines[2]]
    assert lines[2].startswith("[1/3] customer-a: ok (create 2, same 5; ")
    assert "[2/3] customer-b: FAILED: in customer-b: quota exceeded" in lines
    assert (
        "[3/3] customer-c: cancelled: not started: customer-b failed (use --continue-on-error to go on)"
        in lines
    )
    assert lines[-4].split() == ["CUSTOMER", "RESULT", "CHANGES", "DURATION"]
    assert lines[-1].split()[:2] == ["customer-c", "cancelled:"]


def test_ci_detection() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert is_ci({"CI": "true"}, Tty())
    assert is_ci({}, io.StringIO())  # not a terminal
    assert not is_ci({"CI": "false"}, Tty())


def test_rich_reporter_shows_bars_and_prints_each_result() -> None:
    from rich.console import Console

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100, color_system=None)
    with RichReporter("preview", {s: 3 for s in STACKS[:2]}, console=console) as reporter:
        run = run_fleet(STACKS[:2], Recorder(fail={"customer-b"}), concurrency=2, reporter=reporter)
    text = stream.getvalue()
    assert "fleet preview" in text and "2/2" in text  # the overall bar, complete
    assert "customer-a: ok (create 2, same 5;" in text
    assert "customer-b: FAILED: in customer-b: quota exceeded" in text
    assert run.exit_code == 1
