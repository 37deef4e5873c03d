"""`--watch`: notices added, removed or modified `.py` files in worker_src (watchfiles: OS file
notifications; `__pycache__`, `.git` and the like are ignored). A burst of edits is one change: after
the first event the watcher reads on until `settle_s` passes without another."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from watchfiles import Change, PythonFilter, watch

Events = Iterator[set[tuple[Change, str]]]


def file_events(root: Path, timeout_s: float) -> Events:
    """watchfiles' change sets under `root` (`.py` files only); an empty set after `timeout_s`
    without a change."""
    return watch(
        root,
        watch_filter=PythonFilter(),
        debounce=50,
        rust_timeout=int(timeout_s * 1000),
        yield_on_timeout=True,
        raise_interrupt=False,
    )


class SourceWatcher:
    def __init__(
        self,
        root: Path,
        *,
        timeout_s: float = 0.3,
        settle_s: float = 0.3,
        events: Events | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`changed()` waits at most about `timeout_s` for a first event; edits closer than `settle_s`
        count as one. `events` and `clock` replace the file notifications and the time (tests)."""
        self.root = root
        self._settle_s = settle_s
        self._clock = clock
        self._events: Events = events if events is not None else file_events(root, timeout_s)

    def changed(self) -> bool:
        """True once per burst of edits (False when none came within about `timeout_s`)."""
        if not next(self._events, set()):
            return False
        last = self._clock()
        while self._clock() - last < self._settle_s:
            if next(self._events, set()):
                last = self._clock()
        return True
