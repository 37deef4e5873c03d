"""One-line diagnostics for stack files: `file:line:col: key.path: message`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from infra.errors import EdgestackError


def _one_line(text: str) -> str:
    """Escape control characters (a key such as "0\\n") so a diagnostic never spans two lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    key_path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {_one_line(self.key_path) or '<root>'}: {prefix}{_one_line(self.message)}"


class StackError(EdgestackError):
    """Raised with every diagnostic found; nothing downstream runs after it."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class OneLineError(StackError):
    """A problem that has no position inside a stack file (a missing file, no project): one line."""

    def __init__(self, subject: str, message: str) -> None:
        super().__init__([Diagnostic(subject, 1, 1, "", message)])
        self.message = message

    def __str__(self) -> str:
        return self.message
