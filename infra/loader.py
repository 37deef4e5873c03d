"""Stack files -> `Stack`: read YAML with positions, resolve `extends:`, validate, cross-check.

Every problem becomes a `Diagnostic` (`file:line:col: key.path: message`) and all of them are raised
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

from .errors import Diagnostic, StackError
from .merge import merge_layers, merge_sources
from .spec import Stack
from .validation_messages import SECRET_HINT, validation_diagnostics
from .yaml_source import (
    KeyPath,
    Position,
    SourceMap,
    display_path,
    format_key_path,
    parse_yaml_bytes,
    read_source_bytes,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "stacks"
WORKER_SRC_DIR = REPO_ROOT / "worker_src"
CUSTOMER_PREFIX = "customer-"
CUSTOMERS_DIR_NAME = "customers"
STACK_SUFFIXES = (".yaml", ".yml")

__all__ = [
    "CUSTOMER_PREFIX",
    "STACKS_DIR",
    "WORKER_SRC_DIR",
    "SourceMap",
    "StackNotFoundError",
    "list_stack_files",
    "load_stack",
    "load_stack_with_sources",
    "merge_stack_files",
    "resolve_stack_path",
    "stack_name",
]


class StackNotFoundError(StackError):
    """A stack name or path that does not exist; its message lists the stacks that do."""

    def __init__(self, requested: str, message: str) -> None:
        super().__init__([Diagnostic(requested, 1, 1, "", message)])
        self.message = message

    def __str__(self) -> str:
        return self.message


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
    path: str | os.PathLike[str], *, worker_src: Path | None = None, cross_check: bool = True
) -> tuple[Stack, SourceMap]:
    """The merged, validated stack and where each of its key paths was written. Raises `StackError`.

    `worker_src` is where Durable Object classes are looked up (default: the repo's `worker_src/`).
    """
    doc, sources = merge_stack_files(path)
    stack = _validate(doc, sources)
    if cross_check:
        from .crossref import cross_reference_diagnostics

        problems = cross_reference_diagnostics(stack, sources, worker_src or WORKER_SRC_DIR)
        errors = [d for d in problems if d.severity == "error"]
        if errors:
            raise StackError(errors)
    return stack, sources


def load_stack(path: str | os.PathLike[str], *, worker_src: Path | None = None) -> Stack:
    """Load, merge, validate and cross-check one stack file. Raises `StackError` on any problem."""
    return load_stack_with_sources(path, worker_src=worker_src)[0]


# --- stack names ----------------------------------------------------------------------------------


def list_stack_files(root: Path = STACKS_DIR) -> list[Path]:
    """Every deployable stack file under `root`, sorted.

    Files and folders whose name starts with `_` (templates) or `.` are partial and skipped: they are
    validated through the stacks that extend them.
    """
    found = []
    for candidate in root.rglob("*"):
        parts = candidate.relative_to(root).parts
        if (
            candidate.suffix in STACK_SUFFIXES
            and candidate.is_file()
            and not any(p[:1] in "_." for p in parts)
        ):
            found.append(candidate)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def stack_name(path: Path, root: Path = STACKS_DIR) -> str:
    """`stacks/prod.yaml` -> `prod`; `stacks/customers/acme.yaml` -> `customer-acme`."""
    try:
        relative = Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root)))
    except ValueError:
        return Path(path).stem
    if len(relative.parts) == 2 and relative.parts[0] == CUSTOMERS_DIR_NAME:
        return CUSTOMER_PREFIX + relative.stem
    return relative.with_suffix("").as_posix().replace("/", "-")


def resolve_stack_path(name_or_path: str, root: Path = STACKS_DIR) -> Path:
    """A stack name (`prod`, `customer-acme`) or a path to a stack file -> the file's path."""
    looks_like_path = "/" in name_or_path or os.sep in name_or_path or name_or_path.endswith(STACK_SUFFIXES)
    if looks_like_path:
        path = Path(name_or_path)
        if path.is_file():
            return path
        raise StackNotFoundError(name_or_path, f"{name_or_path}: no such stack file")
    if name_or_path.startswith(CUSTOMER_PREFIX):
        folder, stem = root / CUSTOMERS_DIR_NAME, name_or_path[len(CUSTOMER_PREFIX) :]
    else:
        folder, stem = root, name_or_path
    if stem and not stem.startswith(("_", ".")):
        for suffix in STACK_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    available = ", ".join(stack_name(p, root) for p in list_stack_files(root)) if root.is_dir() else ""
    raise StackNotFoundError(
        name_or_path,
        f"unknown stack {name_or_path!r} (available: {available or f'none in {display_path(root)}'})",
    )
