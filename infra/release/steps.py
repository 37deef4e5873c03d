"""What `edgestack promote`, `rollback` and `mark-stable` do to a stack: config changes and the
`pulumi` commands, decided from the stacks' outputs and release config. Pure: the Automation API
layer (`infra.release.automation`) runs the result; `--dry-run` prints it.

The config keys and every refusal are in `infra.plan.rollout`, shared with the Pulumi program.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.plan.rollout import (
    BUNDLE_KEY,
    BUNDLE_SHA256_KEY,
    DEPLOYED_TAG_KEY,
    ROLLOUT_KEY,
    VERSIONS_KEY,
    KnownVersion,
    Rollout,
    RolloutError,
    check_percent,
    check_rollout,
    full_key,
    known,
    parse_rollout,
    parse_versions,
    versions_config,
)
from infra.release.json_file import read_json_file


@dataclass(frozen=True)
class StackState:
    """What the commands read from a deployed stack: its outputs and release config."""

    name: str
    outputs: Mapping[str, Any]
    versions: tuple[KnownVersion, ...] = ()
    rollout: Rollout | None = None
    deployed_migration_tag: str | None = None  # edgestack:deployedMigrationTag

    def output_str(self, key: str) -> str | None:
        value = self.outputs.get(key)
        return value if isinstance(value, str) and value else None

    @property
    def split(self) -> list[tuple[str, int]]:
        entries = self.outputs.get("split")
        if not isinstance(entries, list):
            return []
        return [
            (str(e["versionId"]), int(e["percentage"]))
            for e in entries
            if isinstance(e, Mapping) and "versionId" in e and "percentage" in e
        ]

    @property
    def script(self) -> str:
        return self.output_str("scriptName") or self.name

    @property
    def migration_tag(self) -> str | None:
        return self.output_str("migrationTag")


def stack_state(name: str, outputs: Mapping[str, Any], config: Mapping[str, Any]) -> StackState:
    """A stack's state from its outputs and config (`pulumi config --json` style: a value, or
    `{"value": ...}`); raises `RolloutError` for malformed release config."""

    def value(key: str) -> str | None:
        entry = config.get(full_key(key))
        if isinstance(entry, Mapping):
            entry = entry.get("value")
        return entry if isinstance(entry, str) else None

    return StackState(
        name,
        dict(outputs),
        versions=parse_versions(value(VERSIONS_KEY)),
        rollout=parse_rollout(value(ROLLOUT_KEY)),
        deployed_migration_tag=value(DEPLOYED_TAG_KEY),
    )


def load_state_file(path: Path, name: str) -> StackState:
    """Stack `name` from a saved state file: `{"<stack>": {"outputs": <pulumi stack output --json>,
    "config": <pulumi config --json>}}` (for an offline `--dry-run`)."""
    data = read_json_file(path, RolloutError, "state file")
    entry = data.get(name) if isinstance(data, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("outputs", {}), dict):
        raise RolloutError(f"{path}: no stack {name!r} with an outputs object")
    config = entry.get("config", {})
    return stack_state(name, entry.get("outputs", {}), config if isinstance(config, dict) else {})


@dataclass(frozen=True)
class ConfigChange:
    key: str  # without namespace
    value: str | None  # None: remove


@dataclass(frozen=True)
class ReleaseStep:
    stack: str
    changes: tuple[ConfigChange, ...]
    summary: str
    run_up: bool = True

    def commands(self) -> list[list[str]]:
        out: list[list[str]] = []
        for change in self.changes:
            if change.value is None:
                out.append(["pulumi", "config", "rm", "--stack", self.stack, full_key(change.key)])
            else:
                out.append(["pulumi", "config", "set", "--stack", self.stack, full_key(change.key), change.value])
        if self.run_up:
            out.append(["pulumi", "up", "--stack", self.stack, "--yes"])
        return out

    def render(self) -> str:
        return "\n".join([f"# {self.summary}", *(shlex.join(c) for c in self.commands())])


def _with_version(versions: tuple[KnownVersion, ...], version: KnownVersion) -> tuple[KnownVersion, ...]:
    if any(v.id == version.id for v in versions):
        return versions
    return (*versions, version)


def _live_version(target: StackState) -> KnownVersion | None:
    """The version serving 100% of `target`'s traffic now, if it is not mid-rollout."""
    split = target.split
    if len(split) != 1:
        return None
    bundle = target.output_str("bundleSha256")
    if bundle is None:
        return None
    return KnownVersion(split[0][0], bundle, target.migration_tag)


def plan_promote(
    source: StackState,
    target: StackState,
    *,
    artifact_path: str,
    artifact_sha256: str,
    artifact_migration_tag: str | None,
    percent: int,
) -> ReleaseStep:
    """Deploy the artifact staging ran to `target`, `percent`% of the traffic."""
    check_percent(percent)
    source_sha = source.output_str("bundleSha256")
    if source_sha is None:
        raise RolloutError(f"stack {source.name} has no bundleSha256 output: deploy it first")
    if artifact_sha256 != source_sha:
        raise RolloutError(
            f"{artifact_path}: bundle sha256 {artifact_sha256} is not what {source.name} runs ({source_sha}); "
            "promote the artifact that was deployed there"
        )
    versions = target.versions
    live = _live_version(target)
    if live is not None:
        stable: KnownVersion | None = live
        versions = _with_version(versions, live)
    elif target.rollout is not None and target.rollout.stable_version_id is not None:
        stable = known(versions, target.rollout.stable_version_id, target.script)
    else:
        stable = None
    rollout = Rollout(percent=percent, stable_version_id=stable.id if stable else None)
    pending = artifact_migration_tag != target.migration_tag
    check_rollout(
        rollout,
        versions,
        script=target.script,
        live_migration_tag=artifact_migration_tag,
        migration_pending=pending,
    )
    changes = [
        ConfigChange(BUNDLE_KEY, artifact_path),
        ConfigChange(BUNDLE_SHA256_KEY, artifact_sha256),
        ConfigChange(ROLLOUT_KEY, rollout.to_config()),
    ]
    if versions != target.versions:
        changes.append(ConfigChange(VERSIONS_KEY, versions_config(versions)))
    if target.migration_tag is not None and target.deployed_migration_tag != target.migration_tag:
        # the tag the live script is at (docs/deploy.md): without it the program would resend migrations
        changes.append(ConfigChange(DEPLOYED_TAG_KEY, target.migration_tag))
    share = f"{percent}% (stable {stable.id} keeps {100 - percent}%)" if stable and percent < 100 else "100%"
    return ReleaseStep(
        target.name,
        tuple(changes),
        f"promote {artifact_sha256[:12]} from {source.name} to {target.name} at {share}",
    )


def plan_rollback(target: StackState, to: str | None = None) -> ReleaseStep:
    """Pin `target` to `to`, or to its stable version, at 100%, uploading nothing."""
    versions = target.versions
    current = target.output_str("currentVersionId")
    if to is None:
        stable = target.output_str("stableVersionId")
        if stable is not None and stable != current:
            to = stable
        else:
            previous = [v for v in versions if v.id != current]
            if not previous:
                raise RolloutError(f"stack {target.name} has no previous version to roll back to")
            to = previous[-1].id
    rollout = Rollout(pin_version_id=to)
    version = check_rollout(
        rollout, versions, script=target.script, live_migration_tag=target.migration_tag, migration_pending=False
    )
    assert version is not None
    return ReleaseStep(
        target.name,
        (ConfigChange(ROLLOUT_KEY, rollout.to_config()),),
        f"roll {target.name} back to version {version.id} (bundle {version.bundle_sha256[:12]}) at 100%",
    )


def plan_mark_stable(target: StackState) -> ReleaseStep:
    """Record the version now at 100% as a known version and end the rollout."""
    if target.rollout is not None and target.rollout.pinned:
        raise RolloutError(
            f"stack {target.name} is rolled back to {target.rollout.pin_version_id}; ending the pin would "
            f"deploy {full_key(BUNDLE_KEY)} again: promote a fixed artifact instead"
        )
    live = _live_version(target)
    if live is None or live.id != target.output_str("currentVersionId"):
        split = ", ".join(f"{v} {p}%" for v, p in target.split) or "no deployment output"
        raise RolloutError(
            f"stack {target.name} is not at one new version at 100% ({split}); "
            "promote with --percent 100 first"
        )
    versions = _with_version(target.versions, live)
    changes = [ConfigChange(ROLLOUT_KEY, None)]
    if versions != target.versions:
        changes.insert(0, ConfigChange(VERSIONS_KEY, versions_config(versions)))
    return ReleaseStep(target.name, tuple(changes), f"mark version {live.id} stable on {target.name}")
