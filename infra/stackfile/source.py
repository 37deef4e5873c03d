"""YAML with source positions: every mapping key and value keeps its file, line and column (1-based).

Scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 default: only `true`/`false`
(any case variant of those two words) are booleans, so `yes`, `no`, `on` and `off` stay strings; dates
such as `2026-11-01` stay strings (pydantic parses them where a date is expected); `010` is the
integer 10 and `1:30` is a string. Mapping keys are always strings: the key's text as written.

Anchors, aliases and `<<` merge keys are supported. Tabs in indentation, duplicate keys, unsupported
tags (`!!python/...`, `!!binary`, custom `!tags`) and any YAML error become a `Diagnostic`; no YAML
exception escapes `parse_yaml` / `read_yaml_file`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .diagnostics import Diagnostic, StackError

KeyPath = tuple[str | int, ...]

MAX_DEPTH = 100
MAX_NODES = 200_000  # bounds alias expansion ("billion laughs")
MAX_FILE_BYTES = 4 * 1024 * 1024

_TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ, MERGE = f"{_TAG}map", f"{_TAG}seq", f"{_TAG}merge"


class Position(NamedTuple):
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_key_path(path: KeyPath) -> str:
    """`("worker", "routes", 0, "zone")` -> `worker.routes[0].zone`.

    Keys that are not plain words (dots, spaces, control characters, `@cf/...` model names) are
    written as `["..."]`, escaped, so a key path is always unambiguous and on one line.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(part):
            out += f"[{json.dumps(part)}]"
        else:
            out += f".{part}" if out else part
    return out


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as diagnostics show it: relative to the working directory when below it."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        relative = absolute
    shown = absolute if relative.startswith("..") else relative
    return shown if shown.isprintable() else json.dumps(shown)


@dataclass(frozen=True)
class SourceEntry:
    key: Position  # where the key (or the list item) is written
    value: Position  # where its value starts


@dataclass
class SourceMap(Mapping[KeyPath, Position]):
    """Key path -> position of the key that contributed it (after a merge, the overlay's)."""

    root_file: str
    entries: dict[KeyPath, SourceEntry] = field(default_factory=dict)

    def __getitem__(self, path: KeyPath) -> Position:
        if path == ():
            return self.root
        return self.entries[path].key

    def __iter__(self) -> Iterator[KeyPath]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def root(self) -> Position:
        return Position(self.root_file, 1, 1)

    def nearest(self, path: KeyPath) -> Position:
        """Position of `path`'s key, or of its nearest ancestor that exists in the source."""
        for end in range(len(path), 0, -1):
            entry = self.entries.get(path[:end])
            if entry is not None:
                return entry.key
        return self.root

    def value_position(self, path: KeyPath) -> Position:
        """Position of `path`'s value, or of its nearest ancestor's key."""
        entry = self.entries.get(path)
        return entry.value if entry is not None else self.nearest(path)


@dataclass(frozen=True)
class ParsedDocument:
    data: dict[str, Any]
    sources: SourceMap


# --- loader: PyYAML's pure-Python scanner/parser/composer with YAML 1.2 core-schema resolvers ---

_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_MERGE_RE = re.compile(r"^(?:<<)$")


class _Composer(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.resolver.BaseResolver,
):
    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.resolver.BaseResolver.__init__(self)


_Composer.add_implicit_resolver(BOOL, _BOOL_RE, list("tTfF"))
_Composer.add_implicit_resolver(NULL, _NULL_RE, ["~", "n", "N", ""])
_Composer.add_implicit_resolver(INT, _INT_RE, list("-+0123456789"))
_Composer.add_implicit_resolver(FLOAT, _FLOAT_RE, list("-+0123456789."))
_Composer.add_implicit_resolver(MERGE, _MERGE_RE, ["<"])


class _NodeError(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def _scalar(node: ScalarNode) -> Any:
    text = node.value
    tag = node.tag
    if tag == STR:
        return text
    if tag == NULL:
        if not _NULL_RE.match(text):
            raise _NodeError(node, f"invalid !!null value {text!r}")
        return None
    if tag == BOOL:
        if text.lower() not in ("true", "false"):
            raise _NodeError(node, f"invalid !!bool value {text!r} (use true or false)")
        return text.lower() == "true"
    if tag == INT:
        if not _INT_RE.match(text):
            raise _NodeError(node, f"invalid !!int value {text!r}")
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)
    if tag == FLOAT:
        if not _FLOAT_RE.match(text) and not _INT_RE.match(text):
            raise _NodeError(node, f"invalid !!float value {text!r}")
        lowered = text.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered.endswith(".nan"):
            return float("nan")
        return float(int(text, 0)) if text.startswith(("0o", "0x")) else float(text)
    raise _NodeError(node, f"unsupported YAML tag {_short_tag(tag)!r}")


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


class _Builder:
    """Turns a composed node tree into plain Python values, recording positions per key path."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.entries: dict[KeyPath, SourceEntry] = {}
        self.nodes = 0
        self.active: set[int] = set()  # collection nodes being built (recursive aliases)

    def pos(self, node: Node) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _NodeError(
                node, f"document too large (more than {MAX_NODES} nodes after expanding aliases)"
            )
        if len(path) > MAX_DEPTH:
            raise _NodeError(node, f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if id(node) in self.active:
            raise _NodeError(node, "recursive alias (an anchor used inside itself)")
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != SEQ:
                    raise _NodeError(node, f"unsupported YAML tag {_short_tag(node.tag)!r}")
                items = []
                for index, item in enumerate(node.value):
                    item_path = (*path, index)
                    self.entries[item_path] = SourceEntry(self.pos(item), self.pos(item))
                    items.append(self.build(item, item_path))
                return items
            if isinstance(node, MappingNode):
                return self.build_mapping(node, path)
            raise _NodeError(node, "unsupported YAML node")
        finally:
            self.active.discard(id(node))

    def build_mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        if node.tag != MAP:
            raise _NodeError(node, f"unsupported YAML tag {_short_tag(node.tag)!r}")
        explicit: dict[str, Any] = {}
        explicit_entries: dict[KeyPath, SourceEntry] = {}
        first_seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == MERGE:
                self._merge_into(merged, value_node, path)
                continue
            if not isinstance(key_node, ScalarNode):
                raise _NodeError(key_node, "mapping keys must be plain strings")
            key = key_node.value
            if key in first_seen:
                first = first_seen[key].start_mark.line + 1
                raise _NodeError(key_node, f"duplicate key {key!r} (first defined on line {first})")
            first_seen[key] = key_node
            key_path = (*path, key)
            explicit_entries[key_path] = SourceEntry(self.pos(key_node), self.pos(value_node))
            self.entries[key_path] = explicit_entries[key_path]
            explicit[key] = self.build(value_node, key_path)
        # `<<` merges never override keys written explicitly in the mapping.
        self.entries.update(explicit_entries)
        return {**{k: v for k, v in merged.items() if k not in explicit}, **explicit}

    def _merge_into(self, merged: dict[str, Any], value_node: Node, path: KeyPath) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise _NodeError(source, "'<<' expects a mapping or a list of mappings")
            for key, value in self.build_mapping(source, path).items():
                merged.setdefault(key, value)  # earlier sources win, as in YAML's merge spec


def _tab_diagnostics(text: str, file: str) -> list[Diagnostic]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        tab = line.find("\t", 0, indent)
        if tab >= 0 and line.strip():
            out.append(Diagnostic(file, number, tab + 1, "", "tab character in indentation (use spaces)"))
    return out


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _yaml_error(exc: yaml.YAMLError, text: str, file: str) -> Diagnostic:
    if isinstance(exc, yaml.composer.ComposerError) and exc.problem == "but found another document":
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return Diagnostic(file, line, col, "", "expected a single YAML document, found a second one")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "syntax error"
        if message.startswith("expected <block end>"):
            message = "a key or list item is not aligned with its siblings (check the indentation)"
        context_mark = exc.context_mark
        if exc.problem and exc.context and context_mark and mark and context_mark.line != mark.line:
            message += f" ({exc.context} on line {context_mark.line + 1})"
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return Diagnostic(file, line, col, "", f"invalid YAML: {message}")
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = _line_col(text, exc.position)
        return Diagnostic(file, line, col, "", f"invalid YAML: unacceptable character #x{exc.character:04x}")
    return Diagnostic(file, 1, 1, "", f"invalid YAML: {exc}")


def parse_yaml(text: str, file: str) -> ParsedDocument:
    """Parse one YAML document whose top level is a mapping. Raises `StackError`, nothing else."""
    tabs = _tab_diagnostics(text, file)
    if tabs:
        raise StackError(tabs)
    composer = None
    try:
        composer = _Composer(text)
        root = composer.get_single_node()
    except yaml.YAMLError as exc:
        raise StackError([_yaml_error(exc, text, file)]) from None
    except RecursionError:
        raise StackError([Diagnostic(file, 1, 1, "", f"nesting deeper than {MAX_DEPTH} levels")]) from None
    finally:
        if composer is not None:
            composer.dispose()
    if root is None:
        raise StackError([Diagnostic(file, 1, 1, "", "the file is empty; expected a mapping of stack keys")])
    builder = _Builder(file)
    try:
        data = builder.build(root, ())
    except _NodeError as exc:
        pos = builder.pos(exc.node)
        raise StackError([Diagnostic(file, pos.line, pos.col, "", exc.message)]) from None
    except RecursionError:
        raise StackError([Diagnostic(file, 1, 1, "", f"nesting deeper than {MAX_DEPTH} levels")]) from None
    if not isinstance(data, dict):
        pos = builder.pos(root)
        kind = "a list" if isinstance(data, list) else f"the scalar {data!r}"
        raise StackError(
            [Diagnostic(file, pos.line, pos.col, "", f"expected a mapping at the top level, got {kind}")]
        )
    return ParsedDocument(data, SourceMap(file, builder.entries))


def read_source_bytes(path: Path, file: str) -> bytes:
    """The raw bytes of a stack file. Raises `StackError` (never `OSError`)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StackError([Diagnostic(file, 1, 1, "", f"file too large ({size} bytes; limit {MAX_FILE_BYTES})")])
        return path.read_bytes()
    except IsADirectoryError:
        raise StackError([Diagnostic(file, 1, 1, "", "is a directory, not a stack file")]) from None
    except FileNotFoundError:
        raise StackError([Diagnostic(file, 1, 1, "", "no such file")]) from None
    except OSError as exc:
        raise StackError([Diagnostic(file, 1, 1, "", f"cannot read file: {exc.strerror or exc}")]) from None


def parse_yaml_bytes(raw: bytes, file: str) -> ParsedDocument:
    """Decode (UTF-8, optional BOM) and parse. Raises `StackError`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start].decode("utf-8", errors="replace")
        line, col = _line_col(prefix, len(prefix))
        bad = raw[exc.start]
        raise StackError([Diagnostic(file, line, col, "", f"not valid UTF-8 (byte 0x{bad:02x})")]) from None
    return parse_yaml(text, file)


def read_yaml_file(path: Path, file: str | None = None) -> ParsedDocument:
    """Read and parse `path`; `file` is how diagnostics name it (default: `display_path(path)`)."""
    shown = file if file is not None else display_path(path)
    return parse_yaml_bytes(read_source_bytes(path, shown), shown)
