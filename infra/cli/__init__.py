"""`edgestack` command line: one typer app (`app.py`), one module per command.

To add a command: write `infra/cli/<name>.py` with a function decorated `@app.command("<name>")`
(see app.py), and add the module name to `COMMANDS`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from .app import run

COMMANDS = (
    "init",
    "validate",
    "check",
    "synth",
    "dev",
    "wrangler_config",
    "customer",
    "fleet",
    "build",
    "diff",
    "cost",
    "usage",
    "policy",
    "promote",
    "rollback",
    "mark_stable",
    "key",
)

for _module in COMMANDS:
    importlib.import_module(f"{__name__}.{_module}")


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
