"""Reading a JSON file a release command was given (a saved synth graph, a saved state file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_file(path: Path, error: type[Exception], what: str = "file") -> Any:
    """The parsed JSON of `path`; a missing, unreadable or malformed file raises `error` with one
    line naming the path (`what` names the file in the missing case: "no such state file")."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
