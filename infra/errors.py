"""`EdgestackError`: the base of every error infra raises for the user to fix.

Its message is one line (a `StackError` carries one line per diagnostic). The CLI catches this base
in one place (`infra/cli/app.py`) and prints `edgestack <command>: <message>`; the Pulumi program
turns it into a `RunError`. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class EdgestackError(Exception):
    """A user-facing, one-line reason an edgestack command or program stops."""
