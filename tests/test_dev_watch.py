"""`edgestack dev --watch`: a change to a `.py` file under worker_src is one reload; other files and
`__pycache__` are not. Bounded waits only: the test never depends on how fast the machine is."""

from __future__ import annotations

from pathlib import Path

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
    assert watcher.changed() is False  # the burst was one event


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
