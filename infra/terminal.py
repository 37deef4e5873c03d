"""Terminal output with rich: styled on a terminal, plain text when the stream is not a TTY (pipes,
CI logs, tests) or `NO_COLOR` is set (no-color.org), so scripts read the same columns either way."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

_PLAIN_WIDTH = 100_000  # plain text never wraps: one row per line


def is_tty(stream: TextIO) -> bool:
    """Styled output for `stream`: a terminal, and `NO_COLOR` unset or empty."""
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def _table(headers: Sequence[str] | None, rows: Sequence[Sequence[str]], styled: bool) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD if styled else None,
        show_header=headers is not None,
        header_style="bold" if styled else "",
        show_edge=styled,
        pad_edge=styled,
        padding=(0, 1) if styled else (0, 2, 0, 0),
    )
    for header in headers or [""] * (len(rows[0]) if rows else 0):
        table.add_column(header, no_wrap=not styled, overflow="fold" if styled else "ignore")
    for row in rows:
        table.add_row(*row)
    return table


def table_lines(headers: Sequence[str] | None, rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Aligned plain-text columns (two spaces apart), one line per row, no trailing spaces."""
    buffer = io.StringIO()
    Console(file=buffer, width=_PLAIN_WIDTH, color_system=None, highlight=False).print(
        _table(headers, rows, styled=False), markup=False
    )
    return [indent + line.rstrip() for line in buffer.getvalue().splitlines()]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO | None = None) -> None:
    """A table on `stream` (default stdout): boxed with bold headers on a terminal, plain columns otherwise."""
    stream = stream or sys.stdout
    if is_tty(stream):
        Console(file=stream, highlight=False).print(_table(headers, rows, styled=True), markup=False)
    else:
        for line in table_lines(headers, rows):
            print(line, file=stream)


@contextmanager
def status(message: str, stream: TextIO | None = None) -> Iterator[None]:
    """A spinner with `message` while the block runs on a terminal; otherwise `message` once."""
    stream = stream or sys.stderr
    if not is_tty(stream):
        print(message, file=stream, flush=True)
        yield
        return
    with Console(file=stream, highlight=False).status(escape(message)):
        yield
