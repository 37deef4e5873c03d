"""The startup banner of `edgestack dev`: URL, bindings and their local backends, migrations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.plan.model import Plan
from infra.terminal import table_lines

from .host_config import HostConfig, binding_rows
from .local_tools import SeededTools
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
    local_admin_key: str | None = None  # the stack declares the local admin key (its secret is public)
    seeded_tools: SeededTools | None = None


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
    if facts.local_admin_key:
        lines.append(
            f"Local admin key: {facts.local_admin_key} (local only: PUT /v1/tools, every key's /v1/usage)"
        )
    seeded = facts.seeded_tools
    if seeded and seeded.skipped:
        lines.append(f"agents.local_tools not seeded: {seeded.skipped}")
    if seeded and (seeded.added or seeded.kept):
        names = ", ".join([*(f"{n} (added now)" for n in seeded.added), *seeded.kept])
        lines.append(f"Sample agent tools (tenant public): {names}")
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
