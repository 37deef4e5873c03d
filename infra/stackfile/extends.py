"""`extends:` merge rules, as pure functions over parsed YAML (see docs/stack-files.md).

A stack is a left fold of layers: `apply_overlay(apply_overlay({}, base), overlay)`. For each key of
the overlay:
- `null` deletes the key (it stays deleted unless a later layer sets it again);
- a mapping over a mapping merges recursively;
- anything else (scalar, list, or a mapping over a non-mapping) replaces the base value. Lists are
  never concatenated or merged item by item: the overlay's list is the result.
Base keys the overlay does not mention are kept, in the base's order; new keys are appended.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .source import KeyPath, SourceEntry, SourceMap


def apply_overlay(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overlay` applied. Neither argument is modified."""
    out = dict(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            current = out.get(key)
            out[key] = apply_overlay(current if isinstance(current, dict) else {}, value)
        else:
            out[key] = value
    return out


def merge_layers(layers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Apply each layer in order, starting from an empty mapping."""
    result: dict[str, Any] = {}
    for layer in layers:
        result = apply_overlay(result, layer)
    return result


def iter_key_paths(value: Any, prefix: KeyPath = ()) -> Iterator[KeyPath]:
    """Every key path inside `value` (mapping keys and list indexes), parents before children."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from iter_key_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from iter_key_paths(item, (*prefix, index))


def merge_sources(result: dict[str, Any], sources: Iterable[SourceMap], root_file: str) -> SourceMap:
    """Positions for `result`: per key path, the last layer that wrote it (overlays win)."""
    combined: dict[KeyPath, SourceEntry] = {}
    for source in sources:
        combined.update(source.entries)
    entries = {path: combined[path] for path in iter_key_paths(result) if path in combined}
    return SourceMap(root_file, entries)
