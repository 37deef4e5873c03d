"""Wrangler's own check of an `edgestack wrangler-config` export: `wrangler deploy --dry-run`, offline.

Wrangler (pinned in `runtime/package.json`) validates the config with its schema, collects the Python
modules and prints the Worker's bindings, then exits before any upload. A dry run makes no API call;
its only outbound requests are telemetry (off: `WRANGLER_SEND_METRICS=false`) and the banner's npm
update check, which reads npm's `registry` setting through `rc` (`npm_registry`) and is pointed at a
closed loopback port. `HTTPS_PROXY` and `CLOUDFLARE_API_BASE_URL` point there too, so any request
wrangler did make would fail instead of leaving the machine. Logs and config go to a temp folder.

Used by the interop test and `bench/fleet.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..plan.model import Plan
from ..stackfile.project import TOOL_ROOT

WRANGLER = TOOL_ROOT / "runtime" / "node_modules" / ".bin" / "wrangler"
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused

_BINDINGS_HEADER = "Your Worker has access to the following bindings:"
_ROW = re.compile(r"^env\.(?P<name>[A-Za-z0-9_]+)(?: \((?P<detail>.*?)\))?\s{2,}(?P<type>\S.*?)\s*$")


@dataclass(frozen=True, order=True)
class PrintedBinding:
    name: str
    type: str
    detail: str | None  # the resource name wrangler shows in parentheses (KV id, D1 name, ...)


@dataclass(frozen=True)
class DryRun:
    config: Path
    returncode: int
    output: str

    @property
    def bindings(self) -> list[PrintedBinding]:
        return sorted(parse_bindings(self.output))


def parse_bindings(output: str) -> Iterator[PrintedBinding]:
    """The rows of wrangler's bindings table (`env.NAME (detail)   Type`)."""
    lines = output.splitlines()
    try:
        start = lines.index(_BINDINGS_HEADER)
    except ValueError:
        return
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        match = _ROW.match(line)
        if match:
            yield PrintedBinding(match["name"], match["type"], match["detail"])


def expected_bindings(the_plan: Plan) -> list[PrintedBinding]:
    """What wrangler should print for the plan: every binding it sees (`wrangler_label`; not
    secrets), with what it shows in parentheses (`wrangler_detail`): the resource's Cloudflare-side
    name, the Durable Object class, the rate limit, the var's value."""
    return sorted(
        PrintedBinding(binding.name, binding.wrangler_label, binding.wrangler_detail())
        for binding in the_plan.bindings
        if binding.wrangler_label is not None
    )


def offline_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "CF_"))}
    env.update(
        WRANGLER_SEND_METRICS="false",
        WRANGLER_SEND_ERROR_REPORTS="false",
        CI="true",
        npm_registry=f"{CLOSED_PORT}/",
        HTTPS_PROXY=CLOSED_PORT,
        HTTP_PROXY=CLOSED_PORT,
        CLOUDFLARE_API_BASE_URL=f"{CLOSED_PORT}/client/v4",
        XDG_CONFIG_HOME=str(home / "config"),
        WRANGLER_LOG_PATH=str(home / "logs"),
        TMPDIR=str(home / "tmp"),
        NO_COLOR="1",
    )
    return env


def dry_run(config: Path, work_dir: Path, *, wrangler: Path = WRANGLER, timeout: float = 300) -> DryRun:
    """`wrangler deploy --dry-run --config CONFIG --outdir WORK/out-<name>`, offline."""
    (work_dir / "tmp").mkdir(parents=True, exist_ok=True)
    command = [
        str(wrangler),
        "deploy",
        "--dry-run",
        "--config",
        str(config),
        "--outdir",
        str(work_dir / f"out-{config.stem}"),
    ]
    result = subprocess.run(
        command,
        cwd=config.parent,
        env=offline_env(work_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return DryRun(config, result.returncode, result.stdout + result.stderr)
