"""Node.js and the runtime's npm packages: found, checked, installed on first use.

The host's packages are pinned in `runtime/package.json` + `runtime/package-lock.json` and
installed into `runtime/node_modules` (project-local) with `npm ci`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.errors import EdgestackError
from infra.stackfile.project import TOOL_ROOT
from infra.terminal import status

RUNTIME_DIR = TOOL_ROOT / "runtime"
HOST_SCRIPT = RUNTIME_DIR / "host.mjs"
MIN_NODE_MAJOR = 20
NPM_CI = "npm ci --no-audit --no-fund"
INSTALL_HINT = f"cd runtime && {NPM_CI}"

# Files whose presence shows an installed package (better-sqlite3 is compiled at install time).
_REQUIRED_FILES = (
    "miniflare/package.json",
    "pyodide-314/pyodide.asm.wasm",
    "pyodide-0.28/pyodide.asm.wasm",
    "better-sqlite3/build/Release/better_sqlite3.node",
)


class NodeSetupError(EdgestackError, RuntimeError):
    """Node or the runtime's npm packages are missing or unusable; one line with the fix."""


@dataclass(frozen=True)
class NodeRuntime:
    node: str
    version: str


def find_node() -> NodeRuntime:
    node = shutil.which("node")
    if node is None:
        raise NodeSetupError(
            f"Node.js {MIN_NODE_MAJOR}+ is required for `edgestack dev` but `node` is not on PATH: "
            "install it (Debian/Ubuntu: `apt-get install nodejs npm`)"
        )
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise NodeSetupError(f"cannot run {node} --version: {exc}") from None
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < MIN_NODE_MAJOR:
        raise NodeSetupError(
            f"Node.js {MIN_NODE_MAJOR}+ is required for `edgestack dev`, found {version} at {node}"
        )
    return NodeRuntime(node, version)


def _locked_versions(lock_file: Path) -> dict[str, str]:
    data = json.loads(lock_file.read_text(encoding="utf-8"))
    return {
        name: str(entry.get("version"))
        for name, entry in data.get("packages", {}).items()
        if name.startswith("node_modules/") and not entry.get("optional")
    }


def missing_packages(runtime_dir: Path = RUNTIME_DIR) -> list[str]:
    """What is missing or out of date in `runtime/node_modules`; [] when installed as locked."""
    modules = runtime_dir / "node_modules"
    installed_lock = modules / ".package-lock.json"
    if not installed_lock.is_file():
        return ["runtime/node_modules (not installed)"]
    problems = [f"runtime/node_modules/{f}" for f in _REQUIRED_FILES if not (modules / f).is_file()]
    wanted = _locked_versions(runtime_dir / "package-lock.json")
    have = _locked_versions(installed_lock)
    problems += [
        f"{name.removeprefix('node_modules/')}@{version}"
        for name, version in sorted(wanted.items())
        if have.get(name) != version
    ]
    return problems


def ensure_runtime_packages(*, auto_install: bool = True, runtime_dir: Path = RUNTIME_DIR) -> None:
    """Install the pinned npm packages on first use (`npm ci`), or explain the one command to run."""
    problems = missing_packages(runtime_dir)
    if not problems:
        return
    if not auto_install:
        raise NodeSetupError(
            f"the local runtime's npm packages are missing ({problems[0]}): run `{INSTALL_HINT}`"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise NodeSetupError(
            "npm is required to install the local runtime's packages: install it (`apt-get install npm`)"
        )
    with status(f"edgestack dev: installing the local runtime's npm packages ({NPM_CI} in runtime/) ..."):
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=runtime_dir,
            check=False,
            capture_output=True,
            text=True,
        )
    if result.returncode != 0 or missing_packages(runtime_dir):
        sys.stderr.write(result.stdout + result.stderr)
        raise NodeSetupError(
            f"installing the local runtime's npm packages failed: run `{INSTALL_HINT}` and read its errors"
        )
