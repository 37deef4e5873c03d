"""The one JSON reader for bytes that come from outside the Worker (request bodies, tool and
provider responses, model-written tool arguments).

`json.loads` recurses once per nesting level; under Pyodide a few thousand levels overflow the
WebAssembly stack, which is not a catchable `RecursionError` but kills the isolate. So the nesting
depth is measured first, by a linear scan that never recurses, and anything deeper than
`MAX_DEPTH` is refused before the parser runs.

After parsing, values the rest of the platform cannot carry are refused with the field that holds
them: lone UTF-16 surrogates (they cannot be encoded as UTF-8, so storing or echoing them fails
later), integers beyond +-2^53 (JavaScript bindings turn them into BigInt, which JSON cannot
serialise) and non-finite numbers (`NaN`, `Infinity`, `1e999`: not JSON).
"""

from __future__ import annotations

import json
import math
import operator
import re
from itertools import accumulate, count
from typing import Any

MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53  # JavaScript's Number.MAX_SAFE_INTEGER + 1: larger is not exact in a double

# A JSON string as the decoder reads it (any escape; DOTALL so raw newlines do not end it).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Opening brackets become 2, closing ones 0; everything else is deleted. After i brackets the running
# sum is 2 * opened, so the depth there is sum - i: computed by C-level iterators, no Python loop.
_BRACKETS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[{]}")
# A surrogate escape, or a surrogate's UTF-8 bytes (json.loads decodes bytes with surrogatepass).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")


class JsonBodyError(ValueError):
    """A body that is refused, with the field at fault (`body` for the body as a whole)."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def nesting_depth(data: bytes) -> int:
    """The deepest bracket nesting of `data` outside strings, as the decoder would reach it."""
    brackets = _STRING.sub(b"", data).translate(_BRACKETS, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(map(operator.sub, accumulate(brackets), count(1)))


class _Unsafe(Exception):
    """A number the platform cannot carry; the walk then finds and names its field."""


def _refuse_constant(name: str) -> Any:
    raise JsonBodyError(f"{name} is not a JSON number")


def _checked_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise _Unsafe
    return value


def _checked_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unsafe
    return value


def read_json(data: bytes | str, *, what: str = "request body") -> Any:
    """Parse `data` as JSON, refusing what the platform cannot carry; raises JsonBodyError."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # Fast path: with no more brackets than the limit, the depth cannot exceed it.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        depth = nesting_depth(raw)
        if depth > MAX_DEPTH:
            raise JsonBodyError(f"{what} nests deeper than {MAX_DEPTH} levels ({depth})")
    try:
        value = json.loads(
            raw, parse_constant=_refuse_constant, parse_int=_checked_int, parse_float=_checked_float
        )
    except JsonBodyError:
        raise
    except _Unsafe:
        check_values(json.loads(raw))  # raises, naming the field
        raise JsonBodyError(f"{what} holds a number out of range") from None
    except ValueError as error:  # includes UnicodeDecodeError and over-long integer literals
        raise JsonBodyError(f"{what} is not valid JSON: {error}") from None
    if (b"\\u" in raw and _SURROGATE_ESCAPE.search(raw)) or (b"\xed" in raw and _RAW_SURROGATE.search(raw)):
        check_values(value)
    return value


def _field(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    # A key may itself hold a surrogate: show it escaped, so the error message can be sent.
    return out.encode("utf-8", "backslashreplace").decode("utf-8") if out else "body"


def check_values(value: Any) -> None:
    """Walk the parsed value (depth is bounded by MAX_DEPTH) and refuse the first unsafe leaf."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise JsonBodyError(
                    f"{_field(path)}: integer {item} is outside +-2^53 (use a string)", _field(path)
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JsonBodyError(f"{_field(path)}: number is out of range", _field(path))
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, (*path, key))
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))


def _check_text(text: str, path: tuple[str | int, ...]) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonBodyError(
            f"{_field(path)}: text holds an unpaired UTF-16 surrogate", _field(path)
        ) from None
