"""`edgestack dev --watch`: a change to a `.py` file under worker_src is one reload; other files and
`__pycache__` are not. On the real file system only bounded waits for an event that must come; how a
burst is coalesced is tested with an injected event stream and clock, never with timing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from watchfiles import Change

from infra.dev.watch import SourceWatcher

MAX_POLLS = 100  # x 0.1 s: a generous bound, not a speed requirement


def _first_change(watcher: SourceWatcher) -> int | None:
    for poll in range(MAX_POLLS):
        if watcher.changed():
            return poll
    return None


def test_python_edits_are_noticed_once_per_burst(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "entry.py").write_text("A = 1\n")
    watcher = SourceWatcher(tmp_path, timeout_s=0.1, settle_s=0.2)
    assert watcher.changed() is False  # nothing happened
    (tmp_path / "entry.py").write_text("A = 2\n")
    (tmp_path / "app" / "new.py").write_text("B = 1\n")
    assert _first_change(watcher) is not None


def test_other_files_and_caches_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "__pycache__").mkdir()
    watcher = SourceWatcher(tmp_path, timeout_s=0.1, settle_s=0.1)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "__pycache__" / "entry.py").write_text("x")
    assert not any(watcher.changed() for _ in range(10))
    (tmp_path / "gone.py").write_text("x")
    assert _first_change(watcher) is not None
    (tmp_path / "gone.py").unlink()
    assert _first_change(watcher) is not None  # removals count too


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def scripted_events(clock: FakeClock, script: list[tuple[float, bool]]) -> Iterator[set[tuple[Change, str]]]:
    """Each read takes `seconds` on `clock` and yields a change (or the timeout's empty set)."""
    for seconds, change in script:
        clock.now += seconds
        yield {(Change.modified, "/src/entry.py")} if change else set()
    while True:  # then nothing more happens
        clock.now += 0.1
        yield set()


def test_a_burst_of_edits_is_one_change_and_a_later_edit_another() -> None:
    clock = FakeClock()
    # Edits at 0.1, 0.3 and 0.5 s (each within settle_s of the last), quiet, then one at 2.0 s.
    script = [(0.1, True), (0.2, True), (0.2, True), (0.1, False), (0.1, False), (0.1, False),
              (0.1, False), (0.1, False), (1.0, True)]  # fmt: skip
    watcher = SourceWatcher(Path("/src"), settle_s=0.25, events=scripted_events(clock, script), clock=clock)
    assert watcher.changed() is True  # the burst at 0.1-0.5 s ...
    assert clock.now > 0.5 + 0.25  # ... read on until it had settled
    # Two quiet reads, the edit at 2.0 s, then nothing.
    assert [watcher.changed() for _ in range(6)] == [False, False, True, False, False, False]


def test_no_event_within_the_timeout_is_no_change() -> None:
    clock = FakeClock()
    watcher = SourceWatcher(Path("/src"), events=scripted_events(clock, []), clock=clock)
    assert [watcher.changed() for _ in range(3)] == [False, False, False]
