"""Gradual rollout and rollback: the stack config that drives them and the refusals, all pure.

Stack config (project namespace `edgestack`), read by the Pulumi program and written by
`edgestack promote`, `edgestack rollback` and `edgestack mark-stable`:

* `edgestack:rollout`, JSON, one of
  - `{"percent": N, "stableVersionId": ID}`: upload this run's version and send it N% of the
    traffic, the stable version 100-N% (`percent: 100` completes the rollout; the stable id may
    then be omitted, e.g. on a first deploy);
  - `{"pinVersionId": ID}`: rollback; the deployment sends 100% to that version and nothing is
    uploaded.
  Unset: this run's version at 100% (a plain deploy).
* `edgestack:versions`, JSON list of `{"id", "bundleSha256", "migrationTag"}`: the versions of
  this script the pipeline recorded (newest last, at most 100: Cloudflare keeps a script's last
  100 versions). Only these can be a stable version or a rollback target, and each carries the
  Durable Object migration tag it runs against.

`check_rollout` holds every refusal, so the program (at `pulumi up`) and the commands (before
they change anything) refuse the same things with the same one-line reasons.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infra.errors import EdgestackError

CONFIG_NAMESPACE = "edgestack"
ROLLOUT_KEY = "rollout"
VERSIONS_KEY = "versions"
BUNDLE_KEY = "bundle"
BUNDLE_SHA256_KEY = "bundleSha256"
DEPLOYED_TAG_KEY = "deployedMigrationTag"
MAX_KNOWN_VERSIONS = 100


class RolloutError(EdgestackError):
    """A one-line reason a rollout, rollback or promotion is refused."""


def full_key(key: str) -> str:
    return f"{CONFIG_NAMESPACE}:{key}"


@dataclass(frozen=True)
class KnownVersion:
    id: str
    bundle_sha256: str
    migration_tag: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "bundleSha256": self.bundle_sha256, "migrationTag": self.migration_tag}


@dataclass(frozen=True)
class Rollout:
    percent: int | None = None
    stable_version_id: str | None = None
    pin_version_id: str | None = None

    @property
    def pinned(self) -> bool:
        return self.pin_version_id is not None

    def to_config(self) -> str:
        data: dict[str, Any] = {}
        if self.pin_version_id is not None:
            data["pinVersionId"] = self.pin_version_id
        else:
            data["percent"] = self.percent
            if self.stable_version_id is not None:
                data["stableVersionId"] = self.stable_version_id
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


def check_percent(percent: int) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        raise RolloutError(f"percent {percent!r} is outside 1-100")
    return percent


def _json(text: str, key: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RolloutError(f"{full_key(key)}: not JSON ({exc.msg} at column {exc.colno})") from None


def _version_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RolloutError(f"{where}: expected a version id (a non-empty string)")
    return value


def parse_rollout(text: str | None) -> Rollout | None:
    """`edgestack:rollout` as written in config (None or empty: no rollout)."""
    if not text:
        return None
    data = _json(text, ROLLOUT_KEY)
    where = full_key(ROLLOUT_KEY)
    if not isinstance(data, dict):
        raise RolloutError(f"{where}: expected an object with percent/stableVersionId or pinVersionId")
    unknown = sorted(set(data) - {"percent", "stableVersionId", "pinVersionId"})
    if unknown:
        raise RolloutError(f"{where}: unknown key {unknown[0]!r} (percent, stableVersionId, pinVersionId)")
    if "pinVersionId" in data:
        if "percent" in data or "stableVersionId" in data:
            raise RolloutError(f"{where}: pinVersionId (a rollback) cannot be combined with percent/stableVersionId")
        return Rollout(pin_version_id=_version_id(data["pinVersionId"], f"{where}.pinVersionId"))
    if "percent" not in data:
        raise RolloutError(f"{where}: percent is required (1-100) unless pinVersionId is set")
    try:
        percent = check_percent(data["percent"])
    except RolloutError as exc:
        raise RolloutError(f"{where}.{exc}") from None
    stable = data.get("stableVersionId")
    return Rollout(
        percent=percent,
        stable_version_id=None if stable is None else _version_id(stable, f"{where}.stableVersionId"),
    )


def parse_versions(text: str | None) -> tuple[KnownVersion, ...]:
    """`edgestack:versions` as written in config (None or empty: no recorded versions)."""
    if not text:
        return ()
    data = _json(text, VERSIONS_KEY)
    where = full_key(VERSIONS_KEY)
    if not isinstance(data, list):
        raise RolloutError(f"{where}: expected a list of {{id, bundleSha256, migrationTag}}")
    versions = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("bundleSha256"), str):
            raise RolloutError(f"{where}[{index}]: expected {{id, bundleSha256, migrationTag}}")
        tag = item.get("migrationTag")
        if tag is not None and not isinstance(tag, str):
            raise RolloutError(f"{where}[{index}].migrationTag: expected a string or null")
        versions.append(KnownVersion(_version_id(item.get("id"), f"{where}[{index}].id"), item["bundleSha256"], tag))
    return tuple(versions)


def versions_config(versions: Sequence[KnownVersion]) -> str:
    return json.dumps([v.to_json() for v in versions[-MAX_KNOWN_VERSIONS:]], separators=(",", ":"))


def known(versions: Sequence[KnownVersion], version_id: str, script: str) -> KnownVersion:
    for version in versions:
        if version.id == version_id:
            return version
    listed = ", ".join(v.id for v in versions[-5:]) or "none recorded"
    raise RolloutError(
        f"version {version_id} is not a recorded version of {script} ({full_key(VERSIONS_KEY)}: {listed})"
    )


def check_rollout(
    rollout: Rollout | None,
    versions: Sequence[KnownVersion],
    *,
    script: str,
    live_migration_tag: str | None,
    migration_pending: bool,
) -> KnownVersion | None:
    """Refuse what Cloudflare (or sense) refuses; returns the stable or pinned version, if any.

    `live_migration_tag` is the Durable Object migration tag the script runs at after this deploy;
    `migration_pending` says this deploy applies migration steps.
    """
    if rollout is None:
        return None
    other_id = rollout.pin_version_id or rollout.stable_version_id
    if rollout.pinned:
        action = "a rollback"
    elif rollout.percent is not None and rollout.percent < 100:
        action = "a split deployment"
        if other_id is None:
            raise RolloutError(
                f"{full_key(ROLLOUT_KEY)}: a split at {rollout.percent}% needs a stable version "
                "(stableVersionId), and there is none; deploy with percent 100 first"
            )
    else:
        action = None  # percent 100: the stable version only stays recorded for a rollback
    if other_id is None:
        return None
    version = known(versions, other_id, script)
    if action is not None and migration_pending:
        raise RolloutError(
            f"{action} cannot carry a Durable Object migration (this deploy applies {live_migration_tag}); "
            "deploy the migration alone at 100% first"
        )
    if action is not None and version.migration_tag != live_migration_tag:
        raise RolloutError(
            f"{action} to version {version.id} crosses a Durable Object migration "
            f"(it runs at {version.migration_tag or 'none'}, the script is at {live_migration_tag or 'none'}); "
            "Cloudflare refuses it: roll forward instead"
        )
    return version
