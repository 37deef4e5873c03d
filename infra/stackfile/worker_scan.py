"""What the Worker source uses, read with `ast` (never imported): `env.NAME` bindings, DO classes.

Recognized binding uses, where `env` is a name `env` or any attribute `.env` (`self.env`):
- `env.NAME` (NAME in UPPER_SNAKE_CASE; lowercase attributes such as `env.get` are methods),
- `getattr(env, "NAME"[, default])` and `hasattr(env, "NAME")`, where the name may also be a module
  constant (`STACK_BINDING = "EDGESTACK_STACK"`), defined in the same module or imported from one.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import Diagnostic
from .project import ENTRY_MODULE
from .source import display_path

CONFIG_MODULE = Path("app") / "config.py"
PLAIN_TEXT_PREFIX = "EDGESTACK_"
DURABLE_OBJECT_BASE = "DurableObject"
_SKIPPED_DIRS = {"tests", "test", "__pycache__", "python_modules", "node_modules"}
_ENV_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class EnvUsage:
    name: str
    file: Path
    line: int
    col: int


@dataclass(frozen=True)
class ParsedModule:
    path: Path
    tree: ast.Module


def python_sources(worker_src: Path) -> list[Path]:
    """Every Worker module, in a stable order (tests, caches and vendored packages excluded)."""
    found = []
    for path in worker_src.rglob("*.py"):
        parts = path.relative_to(worker_src).parts
        if not any(p in _SKIPPED_DIRS or p.startswith(".") for p in parts[:-1]):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(worker_src).as_posix())


_PARSE_CACHE: dict[tuple[str, bytes], ast.Module] = {}


def parse_module(path: Path) -> ast.Module | Diagnostic:
    """The module's AST, or a diagnostic naming where it cannot be read or parsed."""
    shown = display_path(path)
    try:
        source = path.read_bytes()
        key = (shown, hashlib.sha256(source).digest())
        if key in _PARSE_CACHE:
            return _PARSE_CACHE[key]
        tree = ast.parse(source, filename=shown)
    except OSError as exc:
        return Diagnostic(shown, 1, 1, "", f"cannot read: {exc.strerror or exc}")
    except SyntaxError as exc:
        return Diagnostic(shown, exc.lineno or 1, exc.offset or 1, "", f"syntax error: {exc.msg}")
    except ValueError as exc:  # e.g. null bytes
        return Diagnostic(shown, 1, 1, "", f"cannot parse: {exc}")
    if len(_PARSE_CACHE) > 1024:
        _PARSE_CACHE.clear()
    _PARSE_CACHE[key] = tree
    return tree


def durable_object_classes(worker_src: Path) -> dict[str, int] | Diagnostic:
    """Top-level classes of `entry.py` deriving from `DurableObject` -> their line numbers."""
    entry = worker_src / ENTRY_MODULE
    if not entry.is_file():
        return Diagnostic(display_path(entry), 1, 1, "", "Worker entry module not found")
    tree = parse_module(entry)
    if isinstance(tree, Diagnostic):
        return tree
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(_base_name(b) == DURABLE_OBJECT_BASE for b in node.bases):
            classes[node.name] = node.lineno
    return classes


def _base_name(base: ast.expr) -> str | None:
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):
        return base.attr
    return None


def _string_constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            out[node.targets[0].id] = node.value.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            out[node.target.id] = node.value.value
    return out


def plain_text_binding_names(worker_src: Path) -> set[str]:
    """The `EDGESTACK_*` plain-text bindings the planner adds (constants of `app/config.py`)."""
    tree = parse_module(worker_src / CONFIG_MODULE) if (worker_src / CONFIG_MODULE).is_file() else None
    if not isinstance(tree, ast.Module):
        return set()
    return {
        v
        for v in _string_constants(tree).values()
        if v.startswith(PLAIN_TEXT_PREFIX) and _ENV_NAME_RE.match(v)
    }


def _module_file(worker_src: Path, current: Path, module: str | None, level: int) -> Path | None:
    base = current.parent
    for _ in range(max(level - 1, 0)):
        base = base.parent
    root = base if level else worker_src
    target = root.joinpath(*module.split(".")) if module else root
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_env(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "env") or (
        isinstance(node, ast.Attribute) and node.attr == "env"
    )


class _UsageVisitor(ast.NodeVisitor):
    def __init__(self, path: Path, constants: dict[str, str]) -> None:
        self.path = path
        self.constants = constants
        self.usages: list[EnvUsage] = []

    def _add(self, name: str, node: ast.AST) -> None:
        if _ENV_NAME_RE.match(name):
            self.usages.append(EnvUsage(name, self.path, node.lineno, node.col_offset + 1))  # type: ignore[attr-defined]

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_env(node.value):
            self._add(node.attr, node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and _is_env(node.args[0])
        ):
            key = node.args[1]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self._add(key.value, key)
            elif isinstance(key, ast.Name) and key.id in self.constants:
                self._add(self.constants[key.id], key)
        self.generic_visit(node)


def scan_env_usages(worker_src: Path) -> tuple[list[EnvUsage], list[Diagnostic]]:
    """Every `env.NAME` use under `worker_src`, and diagnostics for modules that do not parse."""
    modules: dict[Path, ast.Module] = {}
    problems: list[Diagnostic] = []
    for path in python_sources(worker_src):
        tree = parse_module(path)
        if isinstance(tree, Diagnostic):
            problems.append(tree)
        else:
            modules[path] = tree
    own_constants = {path: _string_constants(tree) for path, tree in modules.items()}
    usages: list[EnvUsage] = []
    for path, tree in modules.items():
        constants = dict(own_constants[path])
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _module_file(worker_src, path, node.module, node.level)
                imported = own_constants.get(source, {}) if source else {}
                for alias in node.names:
                    if alias.name in imported:
                        constants[alias.asname or alias.name] = imported[alias.name]
        visitor = _UsageVisitor(path, constants)
        visitor.visit(tree)
        usages.extend(visitor.usages)
    return usages, problems
