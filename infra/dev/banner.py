"""The startup banner of `edgestack dev`: URL, bindings and their local backends, migrations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.plan.model import Plan
from infra.terminal import table_lines

from .host_config import HostConfig, binding_rows
from .migrate import MigrationOutcome
from .runtime_process import ReadyInfo


@dataclass(frozen=True)
class BannerFacts:
    stack_name: str
    python: str
    sdk_version: str
    bundle_version: str
    module_count: int
    state_dir: str
    ready: ReadyInfo
    plan: Plan
    config: HostConfig
    migrations: Sequence[MigrationOutcome]
    missing_secrets: Sequence[str]
    embedding_lines: Sequence[str]
    watching: str | None


def render_banner(facts: BannerFacts) -> str:
    ready = facts.ready
    timings = ready.timings
    bindings = binding_rows(facts.plan, facts.config)
    lines = [
        f"edgestack dev: stack {facts.stack_name}, Python {facts.python} on Pyodide {ready.pyodide}, "
        f"workers-runtime-sdk {facts.sdk_version}",
        f"  Listening on {ready.url}   try: curl {ready.url}/healthz",
        f"  bundle {facts.bundle_version} ({facts.module_count} modules), state in {facts.state_dir}",
        "Bindings (local backends):",
        *(table_lines(None, bindings, indent="  ") if bindings else ["  (none)"]),
    ]
    for outcome in facts.migrations:
        newly = f", applied now: {', '.join(outcome.newly_applied)}" if outcome.newly_applied else ""
        lines.append(f"D1 migrations {outcome.binding}: {len(outcome.applied)} applied{newly}")
    lines += facts.embedding_lines
    for host, target in sorted(facts.config.mapHosts.items()):
        lines.append(f"Mapped host (local runtime only): https://{host} -> {target}")
    if facts.missing_secrets:
        lines.append(
            f"Secrets not set: {', '.join(facts.missing_secrets)} (put them in .dev.vars or the environment)"
        )
    started = timings.get("startMs")
    if started is not None:
        lines.append(
            f"Ready in {started / 1000:.1f} s (Pyodide {timings.get('pyodideLoadMs', 0) / 1000:.1f} s, "
            f"entry.py import {timings.get('entryImportMs', 0):.0f} ms)."
            + (f" Watching {facts.watching} for changes." if facts.watching else "")
            + " Ctrl-C to stop."
        )
    return "\n".join(lines)
