"""D1 migrations for `edgestack dev`: the same runner and REST client as `pulumi up`, pointed at
the host's loopback copy of Cloudflare's D1 query endpoint (`/__edgestack/client/v4/...`).

The checksums of applied files are kept in `<state>/d1-migrations.json` (the Pulumi resource keeps
them in its state), so editing an already-applied migration is refused locally too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.d1.files import load_migrations
from infra.d1.migrations import apply_migrations
from infra.deploy.cloudflare_api import D1RestClient, RetryPolicy, connect
from infra.plan.model import Plan

from .runtime_process import RuntimeStartError

CHECKSUMS_FILE = "d1-migrations.json"
ADMIN_API_PATH = "/__edgestack/client/v4"
READY_PATH = "/__edgestack/ready"


class ReadySignalError(RuntimeStartError):
    """The host refused or did not answer the session's ready signal (one line)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="ready_signal")


@dataclass(frozen=True)
class MigrationOutcome:
    binding: str
    database: str
    folder: str
    applied: tuple[str, ...]
    newly_applied: tuple[str, ...]


def admin_base_url(runtime_url: str) -> str:
    return runtime_url.rstrip("/") + ADMIN_API_PATH


def _read_checksums(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(db): dict(sums) for db, sums in data.items() if isinstance(sums, dict)}


def apply_local_migrations(
    plan: Plan, runtime_url: str, token: str, state_dir: Path
) -> list[MigrationOutcome]:
    """Apply every D1 binding's pending migrations. Raises `infra.d1.migrations.D1MigrationError`."""
    if not plan.storage.d1_migrations:
        return []
    api = connect(
        token, base_url=admin_base_url(runtime_url), retry=RetryPolicy(max_attempts=2, max_total_s=30)
    )
    names = {p.binding: p.database_name for p in plan.storage.d1}
    checksums_file = state_dir / CHECKSUMS_FILE
    known = _read_checksums(checksums_file)
    outcomes = []
    for step in plan.storage.d1_migrations:
        database = names[step.binding]
        files = load_migrations(step.migrations_dir)
        report = apply_migrations(
            D1RestClient(api, plan.account_id, database), files, known.get(database, {})
        )
        known[database] = report.checksums
        checksums_file.parent.mkdir(parents=True, exist_ok=True)
        checksums_file.write_text(json.dumps(known, indent=2, sort_keys=True), encoding="utf-8")
        outcomes.append(
            MigrationOutcome(
                step.binding, database, step.migrations_dir, report.recorded, report.newly_applied
            )
        )
    return outcomes


def signal_ready(runtime_url: str, token: str, timeout_s: float = 30.0) -> dict[str, float]:
    """Tell the host the migrations are applied, so it starts serving the Worker; returns its timings."""
    url = runtime_url.rstrip("/") + READY_PATH
    try:
        response = httpx.post(url, headers={"authorization": f"Bearer {token}"}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise ReadySignalError(f"the runtime host did not accept the ready signal: {exc}") from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200 or not body.get("success"):
        errors = body.get("errors") or [{"message": response.text.strip()[:200]}]
        raise ReadySignalError(f"the runtime host refused the ready signal: {errors[0].get('message')}")
    timings = (body.get("result") or {}).get("timings") or {}
    return {str(k): float(v) for k, v in timings.items() if isinstance(v, int | float)}
