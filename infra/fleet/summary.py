"""`edgestack fleet synth`: every customer through the offline synth, in one process, summarised.

Pulumi and `pulumi_cloudflare` are imported once and the Worker bundle is built once; each customer
then costs a plan and one mock-runtime run. Per customer the summary says how many resources the
program registers and how many are protected, the pending D1 migration files and Durable Object
migration steps, the bundle sha, and which sections differ from the template beyond the customer's
identity (name, zones, hostnames, routes, rate-limit namespace ids, gateway keys).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..d1.files import load_migrations
from ..plan.bundle import Bundle
from ..plan.planner import Plan, plan
from ..plan.rollout import DEPLOYED_TAG_KEY, full_key
from ..stackfile.diagnostics import StackError
from ..stackfile.load import merge_stack_files
from ..stackfile.source import KeyPath
from .members import Member

DEPLOYED_TAG_CONFIG = full_key(DEPLOYED_TAG_KEY)

# A customer's identity: what `customer new` writes. Differences here are not drift.
IDENTITY_PATHS: tuple[KeyPath, ...] = (
    ("name_prefix",),
    ("zones",),
    ("worker", "custom_domains"),
    ("worker", "routes"),
    ("gateway", "keys"),
)


@dataclass(frozen=True)
class CustomerSummary:
    customer: str
    stack: str
    resources: int
    protected: int
    d1_migrations: int
    do_migrations: int
    bundle_sha256: str
    template_drift: tuple[str, ...]  # key paths that differ from the template; () when none
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "stack": self.stack,
            "resources": self.resources,
            "protected": self.protected,
            "pending_d1_migrations": self.d1_migrations,
            "pending_do_migrations": self.do_migrations,
            "bundle_sha256": self.bundle_sha256,
            "differs_from_template": bool(self.template_drift),
            "template_drift": list(self.template_drift),
        }


def _without(doc: Any, path: KeyPath) -> Any:
    if not path or not isinstance(doc, dict) or path[0] not in doc:
        return doc
    if len(path) == 1:
        return {k: v for k, v in doc.items() if k != path[0]}
    return {**doc, path[0]: _without(doc[path[0]], path[1:])}


def _strip_identity(doc: dict[str, Any]) -> dict[str, Any]:
    for path in IDENTITY_PATHS:
        doc = _without(doc, path)
    limits = (doc.get("bindings") or {}).get("rate_limits")
    if isinstance(limits, dict):
        limits = {k: _without(v, ("namespace_id",)) for k, v in limits.items()}
        doc = {**doc, "bindings": {**doc["bindings"], "rate_limits": limits}}
    return doc


def _differences(a: Any, b: Any, prefix: KeyPath, depth: int) -> list[KeyPath]:
    if a == b:
        return []
    if depth == 0 or not (isinstance(a, dict) and isinstance(b, dict)):
        return [prefix]
    out: list[KeyPath] = []
    for key in [*a, *(k for k in b if k not in a)]:
        out += _differences(a.get(key), b.get(key), (*prefix, key), depth - 1)
    return out


def template_drift(
    customer_doc: dict[str, Any], template_doc: dict[str, Any], depth: int = 2
) -> tuple[str, ...]:
    """Key paths (at most `depth` deep) where the customer differs from the template beyond identity."""
    paths = _differences(_strip_identity(template_doc), _strip_identity(customer_doc), (), depth)
    return tuple(".".join(str(p) for p in path) for path in paths)


def deployed_migration_tag(stack: str, project_dir: Path) -> str | None:
    """The tag recorded with `pulumi config set edgestack:deployedMigrationTag` (Pulumi.<stack>.yaml)."""
    config_file = project_dir / f"Pulumi.{stack}.yaml"
    try:
        data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    config = data.get("config") if isinstance(data, dict) else None
    tag = config.get(DEPLOYED_TAG_CONFIG) if isinstance(config, dict) else None
    return tag if isinstance(tag, str) and tag else None


def pending_d1_files(the_plan: Plan) -> int:
    """Migration files the D1 provider checks (all of them are pending for a stack never deployed)."""
    return sum(len(load_migrations(m.migrations_dir)) for m in the_plan.storage.d1_migrations)


def customer_plan(member: Member, bundle: Bundle, project_dir: Path) -> Plan:
    """The member's plan, at the migration tag recorded in `project_dir`'s `Pulumi.<stack>.yaml`."""
    return plan(
        member.stack,
        bundle,
        stack_name=member.name,
        deployed_migration_tag=deployed_migration_tag(member.name, project_dir),
    )


@contextmanager
def pickler_restored() -> Iterator[None]:
    """Undo what Pulumi's dynamic providers leave on `pickle._Pickler`.

    `pulumi.dynamic.serialize_provider` (pulumi 3.272) wraps `pickle._Pickler._batch_setitems` in a new
    sorting wrapper on every call and never unwraps it: each dynamic resource (a Vectorize index, D1
    migrations) adds one level of recursion and one more sort of every dict pickled afterwards. One
    stack has two; a fleet synth of ~500 customers in one process reaches Python's recursion limit
    (RecursionError). Restoring the class attributes after each stack keeps the depth constant.
    """
    saved = {name: pickle._Pickler.__dict__[name] for name in ("_batch_setitems", "save_dict")}  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(pickle._Pickler, name, value)  # type: ignore[attr-defined]


def summarize(
    members: Iterable[Member],
    bundle: Bundle,
    template: Path,
    *,
    project_dir: Path,
    on_done: Any = None,
) -> list[CustomerSummary]:
    """Synth every member (in order) and summarise it. Raises an `EdgestackError` (`StackError`, a planning error)."""
    from ..deploy.synth import synth_plan  # imports Pulumi and pulumi_cloudflare: paid once, here

    template_doc = _merged(template)
    out = []
    for member in members:
        started = time.perf_counter()
        the_plan = customer_plan(member, bundle, project_dir)
        with pickler_restored():
            result = synth_plan(the_plan, deployed_migration_tag=the_plan.worker.migration.old_tag)
        summary = CustomerSummary(
            customer=member.customer or member.name,
            stack=member.name,
            resources=len(result.resources),
            protected=sum(1 for r in result.resources if r.protect),
            d1_migrations=pending_d1_files(the_plan),
            do_migrations=len(the_plan.worker.migration.steps),
            bundle_sha256=the_plan.bundle_sha256,
            template_drift=template_drift(_merged(member.path), template_doc),
            seconds=time.perf_counter() - started,
        )
        out.append(summary)
        if on_done is not None:
            on_done(summary)
    return out


def _merged(path: Path) -> dict[str, Any]:
    try:
        return merge_stack_files(path)[0]
    except StackError:
        return {}


SUMMARY_HEADERS = ("CUSTOMER", "RESOURCES", "PROTECTED", "D1 MIGR", "DO MIGR", "BUNDLE", "DIFFERS FROM TEMPLATE")


def summary_rows(rows: list[CustomerSummary]) -> list[tuple[str, ...]]:
    """Table rows under `SUMMARY_HEADERS`."""
    return [
        (
            r.customer,
            str(r.resources),
            str(r.protected),
            str(r.d1_migrations),
            str(r.do_migrations),
            r.bundle_sha256[:12],
            ("yes: " + ", ".join(r.template_drift)) if r.template_drift else "no",
        )
        for r in rows
    ]
