"""Writes one bench's section of docs/benchmarks.md, leaving the other benches' sections alone."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(heading: str, text: str, docs: Path = DOCS) -> None:
    """Replace the `heading` section (up to the next `## `) with `text`, or append it."""
    existing = docs.read_text() if docs.exists() else "# Benchmarks\n\n"
    lines = existing.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        updated = "".join(lines[:start]) + text + ("\n" if end < len(lines) else "") + "".join(lines[end:])
    docs.write_text(updated)


def publish(heading: str, text: str, write: bool, docs: Path = DOCS) -> None:
    """Print a bench's report and, when `write`, put it in docs/benchmarks.md as the `heading` section."""
    print(text)
    if write:
        write_section(heading, text, docs)
        print(
            f"wrote the {heading.removeprefix('## ')} section of {docs.parent.name}/{docs.name}",
            file=sys.stderr,
        )
