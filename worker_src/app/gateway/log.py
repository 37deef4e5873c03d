"""Structured one-line logs (Workers Logs picks up stdout). Never pass bodies or secrets here."""

from __future__ import annotations

import json


def log_event(event: str, **fields: object) -> None:
    print(json.dumps({"gateway": event, **fields}, default=str, separators=(",", ":")))
