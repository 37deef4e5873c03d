"""Structured one-line logs (Workers Logs picks up stdout). Never pass bodies or secrets here."""

from __future__ import annotations

import json


def log_event(component: str, event: str, **fields: object) -> None:
    """One JSON line `{"<component>": "<event>", ...fields}`; `component` is gateway, rag, agents..."""
    print(json.dumps({component: event, **fields}, default=str, separators=(",", ":")))
