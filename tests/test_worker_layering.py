"""worker_src/ is layered along a request's path: entry.py -> router -> the `/v1` front door -> MCP ->
agents -> rag -> gateway -> shared plumbing (`app/web`) -> the binding and request types. Read with
`ast`, never imported: a lower layer that imports a higher one (even lazily, inside a function)
fails here, so no import cycle can form between packages or top-level modules."""

from __future__ import annotations

import ast
from pathlib import Path

WORKER = Path(__file__).resolve().parent.parent / "worker_src"

# unit (a package or module under app/, or a top-level module) -> rank; a module may import units
# of a lower rank, or its own unit. A new package or top-level module needs a line here.
LAYERS: dict[str, int] = {
    "app.bindings": 0,  # typed views of the bindings
    "app.config": 0,  # the stack's config bindings, parsed once
    "app.http": 0,  # request/response values
    "app.services": 1,  # what a handler may use
    "app.sections": 1,  # how gateway/rag/agents parse their config sections (Reader, SectionCache)
    "app.web": 2,  # shared plumbing: log, SSE, errors, request helpers, auth, rate limits
    "app.gateway": 3,  # the LLM proxy
    "app.rag": 4,
    "app.agents": 5,
    "app.mcp": 6,  # MCP server (/mcp): calls RAG and agents in-process
    "app.v1": 7,  # the /v1 front door (and /mcp)
    "app.demo": 7,
    "app.dashboard": 7,  # GET /dashboard (reads its figures from /v1 over HTTP, imports no feature)
    "app.dashboard_page": 5,  # the page's markup, style and script (data only)
    "app.health": 7,
    "app.index": 7,  # GET /: what the Worker serves
    "app.router": 8,
    "js_bindings": 8,  # the JS adapter of app.bindings (Pyodide)
    "entry": 9,  # the Cloudflare entrypoints
}
# The gateway modules that RAG and agents may import: its in-process API.
GATEWAY_API = {"app.gateway.internal"}


def unit_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "app" and len(parts) > 1 else parts[0]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of a worker_src module, relative ones resolved."""
    name, is_package = _module_name(path, root)
    package = name.split(".") if is_package else name.split(".")[:-1]
    local = {unit.split(".")[0] for unit in LAYERS}
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            modules = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            if module in ("app", "app.gateway") and node.module is not None:  # `from app import rag`
                modules = [f"{module}.{alias.name}" for alias in node.names]
        found.extend((node.lineno, m) for m in modules if m.split(".")[0] in local)
    return found


def layering_violations(root: Path) -> list[str]:
    """`file:line: X imports Y` for each import of a same- or higher-ranked unit, and for each import
    of a gateway module other than its in-process API from RAG or agents."""
    violations = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "app" / "__init__.py":
            continue
        own = unit_of(_module_name(path, root)[0])
        for line, module in imports(path, root):
            target = unit_of(module)
            where = f"{path.relative_to(root.parent)}:{line}: {own} imports {module}"
            if target != own and LAYERS.get(target, 99) >= LAYERS.get(own, -1):
                violations.append(where)
            elif own in ("app.rag", "app.agents") and target == "app.gateway" and module not in GATEWAY_API:
                violations.append(where + " (only app.gateway.internal)")
    return violations


def test_every_worker_unit_has_a_layer() -> None:
    units = {unit_of(_module_name(p, WORKER)[0]) for p in WORKER.rglob("*.py")} - {"app"}
    assert units - set(LAYERS) == set(), "add the new module to LAYERS in tests/test_worker_layering.py"


def test_layers_follow_the_request_path() -> None:
    path = ["entry", "app.router", "app.v1", "app.agents", "app.rag", "app.gateway", "app.web", "app.services"]
    assert [LAYERS[unit] for unit in path] == sorted((LAYERS[unit] for unit in path), reverse=True)
    assert len({LAYERS[unit] for unit in path}) == len(path)


def test_worker_layers_import_only_lower_layers() -> None:
    assert layering_violations(WORKER) == []


def test_an_upward_import_is_caught_even_when_lazy_or_relative(tmp_path: Path) -> None:
    root = tmp_path / "worker_src"
    for package in ("app/web", "app/gateway", "app/rag"):
        (root / package).mkdir(parents=True)
    (root / "app" / "web" / "bad.py").write_text(
        "from ..http import HttpRequest\n"
        "from . import log\n"
        "\n"
        "def f():\n"
        "    from ..gateway.dispatch import close_stream\n"
        "    from .. import rag\n"
        "    import app.v1\n"
    )
    (root / "app" / "rag" / "uses_gateway.py").write_text(
        "from ..gateway.internal import chat\nfrom ..gateway import dispatch\nfrom ..gateway.sse import DONE\n"
    )
    assert layering_violations(root) == [
        "worker_src/app/rag/uses_gateway.py:2: app.rag imports app.gateway.dispatch (only app.gateway.internal)",
        "worker_src/app/rag/uses_gateway.py:3: app.rag imports app.gateway.sse (only app.gateway.internal)",
        "worker_src/app/web/bad.py:5: app.web imports app.gateway.dispatch",
        "worker_src/app/web/bad.py:6: app.web imports app.rag",
        "worker_src/app/web/bad.py:7: app.web imports app.v1",
    ]


def _top_level_imports(path: Path, root: Path) -> set[str]:
    """The worker modules `path` imports when it is imported (module level only, not in functions)."""
    nested_lines = {
        node.lineno
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    return {module for line, module in imports(path, root) if line not in nested_lines}


def startup_modules(root: Path) -> set[str]:
    """Every worker module imported when an isolate imports entry.py."""
    by_name = {_module_name(p, root)[0]: p for p in root.rglob("*.py")}
    seen: set[str] = set()
    todo = ["entry"]
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        todo.extend(m if m in by_name else m.rsplit(".", 1)[0] for m in _top_level_imports(by_name[name], root))
    return seen


def test_startup_imports_only_what_healthz_needs() -> None:
    """The section parsers (app.sections and the packages' config modules), the /v1 front door and
    the demo are imported on first use; measured in bench/runtime.py (docs/benchmarks.md)."""
    assert startup_modules(WORKER) == {
        "entry",
        "js_bindings",
        "app.bindings",
        "app.config",
        "app.health",
        "app.http",
        "app.router",
        "app.services",
    }
