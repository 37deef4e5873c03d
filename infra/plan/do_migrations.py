"""Durable Object migrations with wrangler's semantics.

The stack lists migrations append-only, each with a unique `tag`. Cloudflare stores the tag of
the last migration applied to the script. A deploy sends only the steps after that tag, with
`old_tag` set to it (Cloudflare rejects the upload if the script's tag differs, error 10079);
with no deployed tag it sends every step; when the deployed tag is the newest it sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.errors import EdgestackError
from infra.spec import DurableObjectMigration

FIELD = "durable_object_migrations"


class MigrationError(EdgestackError):
    """One-line, user-facing migration problem (names the field path)."""


@dataclass(frozen=True)
class RenamedClass:
    from_class: str
    to_class: str


@dataclass(frozen=True)
class MigrationStep:
    tag: str
    new_sqlite_classes: tuple[str, ...] = ()
    renamed_classes: tuple[RenamedClass, ...] = ()
    deleted_classes: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: DurableObjectMigration) -> MigrationStep:
        return cls(
            tag=spec.tag,
            new_sqlite_classes=tuple(spec.new_sqlite_classes),
            renamed_classes=tuple(RenamedClass(r.from_, r.to) for r in spec.renamed_classes),
            deleted_classes=tuple(spec.deleted_classes),
        )


@dataclass(frozen=True)
class MigrationPlan:
    """What one deploy sends: `old_tag` (precondition), `new_tag` and the steps in order."""

    old_tag: str | None
    new_tag: str | None
    steps: tuple[MigrationStep, ...]

    @property
    def pending(self) -> bool:
        return bool(self.steps)


def _as_steps(migrations: Sequence[DurableObjectMigration | MigrationStep]) -> tuple[MigrationStep, ...]:
    return tuple(m if isinstance(m, MigrationStep) else MigrationStep.from_spec(m) for m in migrations)


def live_classes(migrations: Sequence[DurableObjectMigration | MigrationStep]) -> frozenset[str]:
    """Validate the whole history and return the classes that exist after its last step."""
    live: set[str] = set()
    tags: dict[str, int] = {}
    for index, step in enumerate(_as_steps(migrations)):
        at = f"{FIELD}[{index}]"
        if step.tag in tags:
            raise MigrationError(f"{at}.tag: tag {step.tag!r} is already used by {FIELD}[{tags[step.tag]}]")
        tags[step.tag] = index
        mentioned: dict[str, str] = {}

        def mention(name: str, where: str, at: str = at, mentioned: dict[str, str] = mentioned) -> None:
            if name in mentioned:
                raise MigrationError(
                    f"{at}.{where}: class {name!r} also appears in {mentioned[name]} of the same step; "
                    "split it into two migrations"
                )
            mentioned[name] = where

        for i, name in enumerate(step.new_sqlite_classes):
            mention(name, f"new_sqlite_classes[{i}]")
            if name in live:
                raise MigrationError(f"{at}.new_sqlite_classes[{i}]: class {name!r} already exists")
            live.add(name)
        for i, renamed in enumerate(step.renamed_classes):
            where = f"renamed_classes[{i}]"
            mention(renamed.from_class, f"{where}.from")
            mention(renamed.to_class, f"{where}.to")
            if renamed.from_class not in live:
                raise MigrationError(
                    f"{at}.{where}.from: class {renamed.from_class!r} does not exist at this tag"
                )
            if renamed.to_class in live:
                raise MigrationError(f"{at}.{where}.to: class {renamed.to_class!r} already exists")
            live.discard(renamed.from_class)
            live.add(renamed.to_class)
        for i, name in enumerate(step.deleted_classes):
            mention(name, f"deleted_classes[{i}]")
            if name not in live:
                raise MigrationError(f"{at}.deleted_classes[{i}]: class {name!r} does not exist at this tag")
            live.discard(name)
    return frozenset(live)


def latest_tag(migrations: Sequence[DurableObjectMigration | MigrationStep]) -> str | None:
    return migrations[-1].tag if migrations else None


def pending_steps(
    migrations: Sequence[DurableObjectMigration | MigrationStep], deployed_tag: str | None
) -> MigrationPlan:
    """The steps after `deployed_tag` (all of them when it is None), wrangler-style."""
    steps = _as_steps(migrations)
    live_classes(steps)
    if deployed_tag is None:
        return MigrationPlan(old_tag=None, new_tag=latest_tag(steps), steps=steps)
    tags = [s.tag for s in steps]
    if deployed_tag not in tags:
        known = ", ".join(tags) if tags else "none"
        raise MigrationError(
            f"{FIELD}: the deployed migration tag {deployed_tag!r} is not in the stack file (tags: {known}); "
            "migrations are append-only, so restore the removed steps, or fix edgestack:deployedMigrationTag"
        )
    after = steps[tags.index(deployed_tag) + 1 :]
    if not after:
        return MigrationPlan(old_tag=deployed_tag, new_tag=deployed_tag, steps=())
    return MigrationPlan(old_tag=deployed_tag, new_tag=after[-1].tag, steps=after)
