"""Stack files -> `Stack`: read YAML with positions, resolve `extends:`, validate, cross-check.

Only `load_stack` (or `check_stack`, its cross-reference pass on a `Stack` built in code) yields a
checked `Stack`; the planner and providers trust it. Every problem becomes a `Diagnostic` (`file:line:col: key.path: message`) and all of them are raised
together as one `StackError`; nothing else escapes `load_stack`.

Paths written inside a stack file (a D1 `migrations:` folder, `extends:` targets) are relative to the
file that declares them. In the returned `Stack` the D1 `migrations` folder is an absolute, normalized
path (so the planner and the dev runtime need not know which file declared it).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra.spec import Stack

from .diagnostics import Diagnostic, StackError
from .extends import merge_layers, merge_sources
from .messages import SECRET_HINT, validation_diagnostics
from .project import find_project, project_of
from .source import (
    KeyPath,
    Position,
    SourceMap,
    display_path,
    format_key_path,
    parse_yaml_bytes,
    read_source_bytes,
)


@dataclass(frozen=True)
class ExtendsRef:
    target: Path
    key_path: KeyPath
    position: Position


@dataclass(frozen=True)
class Layer:
    """One stack file as written, minus `extends:`, with its declared-relative paths made absolute."""

    path: Path
    body: dict[str, Any]
    sources: SourceMap
    extends: tuple[ExtendsRef, ...]


# --- reading one file ---------------------------------------------------------------------------

_LAYER_CACHE: dict[tuple[Path, str, str], Layer] = {}
_LAYER_CACHE_MAX = 512


def _absolutize_relative_paths(body: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """D1 `migrations:` folders are relative to the declaring file; store them absolute."""
    bindings = body.get("bindings")
    if not isinstance(bindings, dict) or not isinstance(bindings.get("d1"), dict):
        return body
    d1: dict[str, Any] = bindings["d1"]
    new_d1 = {}
    for name, spec in d1.items():
        if isinstance(spec, dict) and isinstance(spec.get("migrations"), str):
            spec = {**spec, "migrations": os.path.normpath(base_dir / spec["migrations"])}
        new_d1[name] = spec
    return {**body, "bindings": {**bindings, "d1": new_d1}}


def _extends_refs(value: Any, layer_path: Path, sources: SourceMap) -> tuple[ExtendsRef, ...]:
    items: list[tuple[KeyPath, Any]]
    if isinstance(value, list):
        items = [(("extends", i), item) for i, item in enumerate(value)]
    else:
        items = [(("extends",), value)]
    refs = []
    for key_path, item in items:
        position = sources.value_position(key_path)
        if not isinstance(item, str) or not item.strip():
            raise StackError(
                [
                    Diagnostic(
                        *position, format_key_path(key_path), "expected a stack file name or a list of them"
                    )
                ]
            )
        refs.append(ExtendsRef(Path(os.path.normpath(layer_path.parent / item)), key_path, position))
    return tuple(refs)


def read_layer(path: Path) -> Layer:
    """Parse one stack file. Raises `StackError`.

    Parsed layers are cached by path and content hash, so a fleet of stacks sharing a base parses the
    base once, and an edited file is always re-parsed.
    """
    path = Path(os.path.abspath(path))
    shown = display_path(path)
    raw = read_source_bytes(path, shown)
    cache_key = (path, shown, hashlib.sha256(raw).hexdigest())
    cached = _LAYER_CACHE.get(cache_key)
    if cached is not None:
        return cached
    document = parse_yaml_bytes(raw, shown)
    body = dict(document.data)
    extends = _extends_refs(body.pop("extends"), path, document.sources) if "extends" in body else ()
    layer = Layer(path, _absolutize_relative_paths(body, path.parent), document.sources, extends)
    if len(_LAYER_CACHE) >= _LAYER_CACHE_MAX:
        _LAYER_CACHE.clear()
    _LAYER_CACHE[cache_key] = layer
    return layer


# --- extends: linearization ---------------------------------------------------------------------


def load_layers(path: Path) -> list[Layer]:
    """Layers in application order: each file's bases (depth first, left to right) before it.

    A file reached twice (a diamond) is applied once, at its first position.
    """
    ordered: dict[Path, Layer] = {}
    diagnostics: list[Diagnostic] = []

    def visit(target: Path, chain: tuple[Path, ...], via: ExtendsRef | None) -> None:
        if target in chain:
            cycle = " -> ".join(display_path(p) for p in (*chain[chain.index(target) :], target))
            assert via is not None
            diagnostics.append(
                Diagnostic(*via.position, format_key_path(via.key_path), f"extends cycle: {cycle}")
            )
            return
        if target in ordered:
            return
        if via is not None and not target.is_file():
            what = "is a directory" if target.is_dir() else "does not exist"
            diagnostics.append(
                Diagnostic(
                    *via.position,
                    format_key_path(via.key_path),
                    f"extends file {display_path(target)} {what}",
                )
            )
            return
        try:
            layer = read_layer(target)
        except StackError as exc:
            diagnostics.extend(exc.diagnostics)
            return
        for ref in layer.extends:
            visit(ref.target, (*chain, target), ref)
        ordered.setdefault(target, layer)

    visit(Path(os.path.abspath(path)), (), None)
    if diagnostics:
        raise StackError(diagnostics)
    return list(ordered.values())


# --- validation -----------------------------------------------------------------------------------

_SECRET_VAR_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_PASSWD")
_SECRET_VALUE_PREFIXES = ("sk-", "sk_live_", "ghp_", "github_pat_", "xoxb-", "AKIA")


def looks_like_secret_var(name: str, value: Any) -> bool:
    upper = name.upper()
    if upper in ("PASSWORD", "SECRET", "TOKEN", "API_KEY", "APIKEY") or upper.endswith(_SECRET_VAR_SUFFIXES):
        return True
    return isinstance(value, str) and value.startswith(_SECRET_VALUE_PREFIXES)


def secret_value_diagnostics(
    doc: dict[str, Any], sources: SourceMap
) -> tuple[list[Diagnostic], set[KeyPath]]:
    """Secret values written in the stack file; also returns the paths they cover (never echoed)."""
    worker = doc.get("worker")
    if not isinstance(worker, dict):
        return [], set()
    out: list[Diagnostic] = []
    covered: set[KeyPath] = set()

    def report(path: KeyPath, message: str) -> None:
        position = sources.nearest(path)
        out.append(Diagnostic(*position, format_key_path(path), message))
        covered.add(path)

    secrets = worker.get("secrets")
    if isinstance(secrets, dict):
        report(("worker", "secrets"), SECRET_HINT)
    elif isinstance(secrets, list):
        for index, item in enumerate(secrets):
            if isinstance(item, dict) or (isinstance(item, str) and any(c in item for c in "=: ")):
                report(("worker", "secrets", index), SECRET_HINT)
    variables = worker.get("vars")
    if isinstance(variables, dict):
        for name, value in variables.items():
            if looks_like_secret_var(str(name), value):
                report(
                    ("worker", "vars", name),
                    f"looks like a secret: move {name} to worker.secrets and run `pulumi config set --secret {name}`",
                )
    return out, covered


def _validate(doc: dict[str, Any], sources: SourceMap) -> Stack:
    diagnostics, covered = secret_value_diagnostics(doc, sources)
    try:
        stack = Stack.model_validate(doc)
    except ValidationError as exc:
        diagnostics.extend(validation_diagnostics(exc, Stack, sources, covered))
        raise StackError(diagnostics) from None
    if diagnostics:
        raise StackError(diagnostics)
    return stack


def merge_stack_files(path: str | os.PathLike[str]) -> tuple[dict[str, Any], SourceMap]:
    """The merged document of `path` and its `extends:` chain, before validation. Raises `StackError`."""
    layers = load_layers(Path(path))
    doc = merge_layers(layer.body for layer in layers)
    return doc, merge_sources(doc, (layer.sources for layer in layers), layers[-1].sources.root_file)


def load_stack_with_sources(
    path: str | os.PathLike[str],
    *,
    worker_src: Path | None = None,
    cross_check: bool = True,
    warnings: list[Diagnostic] | None = None,
) -> tuple[Stack, SourceMap]:
    """The merged, validated stack and where each of its key paths was written. Raises `StackError`.

    `worker_src` is where Durable Object classes are looked up (default: the project's `worker_src/`);
    cross-check warnings are appended to `warnings` when given.
    """
    doc, sources = merge_stack_files(path)
    stack = _validate(doc, sources)
    if cross_check:
        check_stack(stack, sources, worker_src=worker_src or project_of(path).worker_src, warnings=warnings)
    return stack, sources


def check_stack(
    stack: Stack,
    sources: SourceMap | None = None,
    *,
    worker_src: Path | None = None,
    warnings: list[Diagnostic] | None = None,
) -> Stack:
    """The cross-reference pass `load_stack` runs, on a validated `Stack`; returns it unchanged or
    raises `StackError`; its warnings are appended to `warnings` when given. Without `sources` (a
    stack built in code) errors point at `<stack>:1:1`."""
    from .crossref import cross_reference_diagnostics

    problems = cross_reference_diagnostics(
        stack, sources or SourceMap("<stack>"), worker_src or find_project().worker_src
    )
    errors = [d for d in problems if d.severity == "error"]
    if errors:
        raise StackError(errors)
    if warnings is not None:
        warnings.extend(d for d in problems if d.severity == "warning")
    return stack


def load_stack(path: str | os.PathLike[str], *, worker_src: Path | None = None) -> Stack:
    """Load, merge, validate and cross-check one stack file. Raises `StackError` on any problem."""
    return load_stack_with_sources(path, worker_src=worker_src)[0]
