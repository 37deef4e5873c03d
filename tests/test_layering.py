"""infra/ is layered by stage: a stack file becomes a `Stack` (stackfile), then a `Plan` (plan), then
resources (deploy); `dev` and `cli` sit on top. Read with `ast`, never imported: a lower stage that
imports a higher one (even lazily, inside a function) fails here, as does a module named like a
package infra imports or a stdlib module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parent.parent / "infra"

# package under infra -> rank; a module may import packages of a lower rank, or its own package.
# A new package needs a line here (release and fleet tooling, which drive deploys, rank above deploy).
LAYERS: dict[str, int] = {
    "terminal": 0,  # rich output, plain when not a TTY
    "errors": -1,  # EdgestackError, the base of every user-facing error (below every stage)
    "spec": 0,  # the stack-file schema (pydantic models and rules)
    "d1": 0,  # the D1 migration folder format and runner, over a client protocol
    "stackfile": 1,  # stack files -> Stack
    "plan": 2,  # Stack + bundle -> Plan
    "cost": 2,  # Stack + traffic profile -> monthly cost (prices.yaml)
    "deploy": 3,  # Plan -> Pulumi resources, Cloudflare API
    "dev": 4,  # the local runtime
    "fleet": 4,  # per-customer fleets: isolation checks, fleet synth, Automation API runs
    "release": 4,  # release pipeline: artifacts' use, diff, policy gates, promote/rollback (Automation API)
    "cli": 5,
    "__main__": 5,  # Pulumi's entry point
}


def _package(module_path: Path, root: Path) -> str:
    return module_path.relative_to(root).with_suffix("").parts[0]


def _imported_packages(module_path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, package under infra) for every import of an infra module, relative ones resolved."""
    tree = ast.parse(module_path.read_text(), filename=str(module_path))
    package = ("infra", *module_path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base: tuple[str, ...] = ()
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            module = ".".join((*base, *([node.module] if node.module else [])))
            names = [module]
            if module == "infra":  # `from infra import deploy`, `from .. import deploy`
                names = [f"infra.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "infra" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def layering_violations(root: Path) -> list[str]:
    """`file:line: infra.X imports infra.Y` for each import of a same- or higher-ranked package."""
    violations = []
    for path in sorted(root.rglob("*.py")):
        if path.parent == root and path.stem == "__init__":
            continue
        own = _package(path, root)
        for line, target in _imported_packages(path, root):
            if target != own and LAYERS.get(target, 99) >= LAYERS.get(own, -1):
                violations.append(
                    f"{path.relative_to(root.parent)}:{line}: infra.{own} imports infra.{target}"
                )
    return violations


def test_every_infra_package_has_a_layer() -> None:
    packages = {_package(p, INFRA) for p in INFRA.rglob("*.py") if p.stem != "__init__" or p.parent != INFRA}
    assert packages - set(LAYERS) == set(), "add the new package to LAYERS in tests/test_layering.py"


def test_stages_import_only_lower_stages() -> None:
    assert layering_violations(INFRA) == []


def test_an_upward_import_is_caught_even_when_lazy_or_relative(tmp_path: Path) -> None:
    root = tmp_path / "infra"
    (root / "stackfile").mkdir(parents=True)
    (root / "stackfile" / "bad.py").write_text(
        "from infra.spec import Stack\n"
        "from . import project\n"
        "\n"
        "def f():\n"
        "    from infra.deploy.program import build\n"
        "    from ..plan import planner\n"
        "    from .. import dev\n"
        "    import infra.cli\n"
    )
    assert layering_violations(root) == [
        "infra/stackfile/bad.py:5: infra.stackfile imports infra.deploy",
        "infra/stackfile/bad.py:6: infra.stackfile imports infra.plan",
        "infra/stackfile/bad.py:7: infra.stackfile imports infra.dev",
        "infra/stackfile/bad.py:8: infra.stackfile imports infra.cli",
    ]


def test_no_module_shadows_a_stdlib_or_imported_package() -> None:
    modules = sorted(INFRA.rglob("*.py"))
    imported_top_level: set[str] = set()
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported_top_level.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported_top_level.add(node.module.split(".")[0])
    taken = (imported_top_level | set(sys.stdlib_module_names) | {"yaml", "pulumi", "cloudflare"}) - {"infra"}
    names = {p.stem for p in modules if not p.stem.startswith("__")}
    names |= {p.name for p in INFRA.rglob("*") if p.is_dir() and (p / "__init__.py").exists()}
    assert sorted(names & taken) == []
