"""pydantic `ValidationError` -> one-line `Diagnostic`s positioned in the stack file(s)."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Collection
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from infra.spec.base import TENANT_SCOPE_RE

from .diagnostics import Diagnostic
from .source import KeyPath, SourceMap, format_key_path

SECRET_HINT = (
    "secret values must not be written in a stack file: list only names under worker.secrets "
    "and set each value with `pulumi config set --secret <NAME>`"
)

# Patterns of the spec, in words.
_PATTERN_WORDS = {
    r"^[0-9a-f]{32}$": "32 lowercase hex characters",
    r"^[0-9a-f]{64}$": "64 lowercase hex characters (a sha256)",
    r"^[A-Z][A-Z0-9_]*$": "UPPER_SNAKE_CASE (letters, digits, underscores; starting with a letter)",
    r"^[a-z][a-z0-9-]{0,39}$": "lowercase letters, digits and dashes, starting with a letter, at most 40 characters",
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$": "lowercase letters, digits and dashes (at most 63, no dash at either end)",
    r"^[A-Z][A-Za-z0-9_]*$": "a Python class name starting with an uppercase letter",
    TENANT_SCOPE_RE: "1-64 letters, digits, '.', '_' or '-' (a scope prefixes its tenant's storage keys: no '/')",
}

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
    "url_type": "a URL",
    "url_parsing": "a URL",
    "url_scheme": "an http(s) URL",
}

_SECRETISH_KEY = re.compile(r"(?i)(^|_)(api_?key|key|token|secret|password|passwd)$")


def describe(value: Any) -> str:
    """A short, safe rendering of a YAML value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    return repr(value)


def did_you_mean(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation can hold (Optional/Union/Annotated removed)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [t for arg in get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _child_type(current: Any, part: str | int) -> Any | None:
    for candidate in _unwrap(current):
        origin = get_origin(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(part, str):
            for name, info in candidate.model_fields.items():
                if part in (name, info.alias):
                    return info.annotation
        elif origin is dict and isinstance(part, str):
            return get_args(candidate)[1]
        elif origin in (tuple, list) and isinstance(part, int):
            return get_args(candidate)[0]
    return None


def allowed_keys(model: type[BaseModel], path: KeyPath) -> list[str]:
    """Keys accepted by the model found at `path` below `model` (aliases as written in YAML)."""
    current: Any = model
    for part in path:
        current = _child_type(current, part)
        if current is None:
            return []
    for candidate in _unwrap(current):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return [info.alias or name for name, info in candidate.model_fields.items()]
    return []


def _message(error: Any, model: type[BaseModel], path: KeyPath) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        key = str(path[-1])
        choices = allowed_keys(model, path[:-1])
        hint = did_you_mean(key, choices)
        if _SECRETISH_KEY.search(key):
            return f"unknown key {key!r}{hint}; {SECRET_HINT}"
        if not hint and choices:
            hint = f" (expected one of: {', '.join(choices)})"
        return f"unknown key {key!r}{hint}"
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = re.findall(r"'([^']*)'", expected)
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        return f"expected {expected}, got {describe(value)}{hint}"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        words = _PATTERN_WORDS.get(pattern, f"a string matching {pattern}")
        return f"expected {words}, got {describe(value)}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[
            kind
        ]
        bound = next(iter(ctx.values()), "?")
        return f"must be {sign} {bound}, got {describe(value)}"
    if kind in ("too_short", "too_long"):
        if "min_length" in ctx:
            return f"needs at least {ctx['min_length']} item(s), got {ctx.get('actual_length', '?')}"
        return f"allows at most {ctx.get('max_length')} item(s), got {ctx.get('actual_length', '?')}"
    if kind in ("string_too_short", "string_too_long"):
        if "min_length" in ctx:
            return f"must be at least {ctx['min_length']} character(s) long"
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _TYPE_WORDS:
        got = describe(value)
        quote = " (quote it)" if kind == "string_type" and isinstance(value, int | float | bool) else ""
        detail = ctx.get("error")
        detail_text = f": {detail}" if detail and kind.startswith(("date", "url")) else ""
        return f"expected {_TYPE_WORDS[kind]}, got {got}{quote}{detail_text}"
    msg = str(error["msg"])
    return msg[:1].lower() + msg[1:]


def validation_diagnostics(
    exc: ValidationError, model: type[BaseModel], sources: SourceMap, skip: Collection[KeyPath] = ()
) -> list[Diagnostic]:
    """One diagnostic per pydantic error; errors at or below a path in `skip` are dropped."""
    out: list[Diagnostic] = []
    for error in exc.errors(include_url=False):
        loc: KeyPath = tuple(error["loc"])
        on_key = bool(loc) and loc[-1] == "[key]"
        path: KeyPath = loc[:-1] if on_key else loc
        if any(path[: len(s)] == s for s in skip):
            continue
        if on_key:
            key = path[-1]
            pattern = (error.get("ctx") or {}).get("pattern", "")
            words = _PATTERN_WORDS.get(pattern, f"a string matching {pattern}")
            message = f"invalid name {key!r}: expected {words}"
            position = sources.nearest(path)
        elif error["type"] in ("missing", "extra_forbidden"):
            message = _message(error, model, path)
            position = sources.nearest(path)
        else:
            message = _message(error, model, path)
            position = sources.value_position(path)
        out.append(Diagnostic(position.file, position.line, position.col, format_key_path(path), message))
    return out
