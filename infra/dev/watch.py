"""Polling watcher for `--watch`: notices added, removed or modified `.py` files in worker_src."""

from __future__ import annotations

import os
import time
from pathlib import Path

Fingerprint = frozenset[tuple[str, int, int]]


def fingerprint(root: Path) -> Fingerprint:
    entries = set()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:
                    continue
                entries.add((path, stat.st_mtime_ns, stat.st_size))
    return frozenset(entries)


class SourceWatcher:
    def __init__(self, root: Path, settle_s: float = 0.3) -> None:
        self.root = root
        self.settle_s = settle_s
        self.last = fingerprint(root)

    def changed(self) -> bool:
        """True once per burst of edits (waits until the files stop changing)."""
        current = fingerprint(self.root)
        if current == self.last:
            return False
        while True:
            time.sleep(self.settle_s)
            settled = fingerprint(self.root)
            if settled == current:
                break
            current = settled
        self.last = current
        return True
