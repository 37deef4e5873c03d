"""`--watch`: notices added, removed or modified `.py` files in worker_src (watchfiles: OS file
notifications, one event per burst of edits; `__pycache__`, `.git` and the like are ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from watchfiles import Change, PythonFilter, watch


class SourceWatcher:
    def __init__(self, root: Path, *, timeout_s: float = 0.3, settle_s: float = 0.3) -> None:
        """`changed()` waits at most about `timeout_s`; edits closer than `settle_s` count as one."""
        self.root = root
        self._events: Iterator[set[tuple[Change, str]]] = watch(
            root,
            watch_filter=PythonFilter(),
            debounce=int(settle_s * 1000),
            rust_timeout=int(timeout_s * 1000),
            yield_on_timeout=True,
            raise_interrupt=False,
        )

    def changed(self) -> bool:
        """Wait up to about `timeout_s`; True once per burst of edits."""
        return bool(next(self._events, set()))
