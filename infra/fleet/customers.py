"""`edgestack customer new|remove`: scaffold a customer overlay from the template, safely.

`new_customer` refuses (one `CustomerError` line, nothing written) an existing customer, a name that is
not a valid slug, a hostname another stack serves, a zone id that is not 32 hex characters, and any
overlay that breaks the stack-file rules or the fleet's isolation rules. The overlay is validated
with the whole fleet from a hidden temporary file next to its final path (so `extends:` resolves the
same way), then renamed into place: the file appears complete or not at all.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgestackError
from ..spec import Stack
from ..spec.base import NAME_PREFIX_RE
from ..spec.resources import route_host
from ..stackfile.diagnostics import StackError
from ..stackfile.load import merge_stack_files
from ..stackfile.names import CUSTOMER_PREFIX, STACK_SUFFIXES
from ..stackfile.source import display_path
from .isolation import ClaimKind, fleet_diagnostics, member_claims
from .members import Fleet, Member, customers_dir, failure_lines, load_fleet, load_member, template_path

# Rate-limit namespace ids the scaffolder hands to customers start here (environments use 1001+).
CUSTOMER_NAMESPACE_START = 2001

_NAME = re.compile(NAME_PREFIX_RE)
_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class CustomerError(EdgestackError):
    """A one-line reason a customer cannot be created or removed; nothing was written."""


@dataclass(frozen=True)
class CustomerRequest:
    name: str
    zone_id: str
    hostname: str
    limit: int | None = None
    period: int | None = None


@dataclass(frozen=True)
class TemplateFacts:
    """What the overlay needs from the merged template: its account and rate-limit bindings."""

    account_id: str
    rate_limit_bindings: tuple[str, ...]  # the first is the one --limit/--period set
    default_period: int | None


def hostname_problem(hostname: str) -> str | None:
    host = hostname.lower()
    if len(host) > 253 or "." not in host or not all(_HOST_LABEL.match(p) for p in host.split(".")):
        return f"{hostname!r} is not a hostname (letters, digits and dashes in dot-separated labels)"
    return None


def check_request(request: CustomerRequest) -> None:
    """Field-level refusals, before anything is loaded."""
    if not _NAME.match(request.name):
        raise CustomerError(
            f"customer name {request.name!r} is not a valid slug: lowercase letters, digits and dashes, "
            "starting with a letter, at most 40 characters (the name_prefix rules)"
        )
    if not _ZONE_ID.match(request.zone_id):
        raise CustomerError(f"--zone-id {request.zone_id!r} is not a zone id (32 lowercase hex characters)")
    problem = hostname_problem(request.hostname)
    if problem:
        raise CustomerError(f"--hostname {problem}")
    if request.limit is not None and request.limit < 1:
        raise CustomerError(f"--limit must be at least 1, got {request.limit}")
    if request.period not in (None, 10, 60):
        raise CustomerError(f"--period must be 10 or 60 (seconds), got {request.period}")


def template_facts(template: Path) -> TemplateFacts:
    """Read the merged (unvalidated: it is partial) template. Raises `CustomerError`."""
    if not template.is_file():
        raise CustomerError(f"no customer template at {display_path(template)}")
    try:
        doc, _ = merge_stack_files(template)
    except StackError as exc:
        raise CustomerError(f"the template does not load: {exc.diagnostics[0]}") from None
    account = doc.get("account_id")
    if not isinstance(account, str):
        raise CustomerError(f"{display_path(template)}: the template (or its base) sets no account_id")
    limits = (doc.get("bindings") or {}).get("rate_limits") or {}
    gateway_limit = ((doc.get("gateway") or {}).get("rate_limit") or {}).get("binding")
    names = sorted(limits, key=lambda n: (n != gateway_limit, n))
    first = limits.get(names[0]) if names else None
    period = first.get("period") if isinstance(first, dict) else None
    return TemplateFacts(account, tuple(names), period if isinstance(period, int) else None)


def used_namespace_ids(members: Iterable[Member], account_id: str) -> set[int]:
    return {
        int(c.value)
        for m in members
        for c in member_claims(m)
        if c.kind is ClaimKind.NAMESPACE_ID and c.scope == account_id
    }


def next_namespace_ids(used: set[int], count: int, start: int = CUSTOMER_NAMESPACE_START) -> list[int]:
    """`count` ids above every id in use at or after `start`.

    Ids below the highest one in use are not reused: a removed customer's file may be gone before its
    stack is destroyed, and its namespace must not be shared meanwhile.
    """
    floor = max((i for i in used if i >= start), default=start - 1) + 1
    return list(range(floor, floor + count))


def served_hostnames(members: Iterable[Member]) -> dict[str, Member]:
    """Hostnames any stack serves (custom domains and route hosts) -> the stack."""
    out: dict[str, Member] = {}
    for member in members:
        for domain in member.stack.worker.custom_domains:
            out.setdefault(domain.hostname.lower(), member)
        for route in member.stack.worker.routes:
            out.setdefault(route_host(route.pattern), member)
    return out


def render_overlay(request: CustomerRequest, facts: TemplateFacts, namespace_ids: list[int]) -> str:
    lines = [
        f"# {request.name}: created by `edgestack customer new`; the template plus this customer's identity.",
        "extends: _template.yaml",
        f"name_prefix: {request.name}",
        "",
        "zones:",
        f"  {request.name}:",
        f'    id: "{request.zone_id}"',
        "",
        "worker:",
        "  custom_domains:",
        f"    - hostname: {request.hostname.lower()}",
        f"      zone: {request.name}",
    ]
    if facts.rate_limit_bindings:
        lines += ["", "bindings:", "  rate_limits:"]
        for i, (binding, namespace_id) in enumerate(
            zip(facts.rate_limit_bindings, namespace_ids, strict=True)
        ):
            lines += [f"    {binding}:", f"      namespace_id: {namespace_id}"]
            if i == 0 and request.limit is not None:
                lines.append(f"      limit: {request.limit}")
            if i == 0 and request.period is not None:
                lines.append(f"      period: {request.period}")
    return "\n".join(lines) + "\n"


def customer_path(stacks_dir: Path, name: str) -> Path | None:
    for suffix in STACK_SUFFIXES:
        candidate = customers_dir(stacks_dir) / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    return None


@dataclass(frozen=True)
class CreatedCustomer:
    path: Path
    stack: Stack
    namespace_ids: tuple[int, ...]


def new_customer(
    stacks_dir: Path, request: CustomerRequest, *, worker_src: Path | None = None, fleet: Fleet | None = None
) -> CreatedCustomer:
    """Write `<stacks>/customers/NAME.yaml`. Raises `CustomerError`; on error nothing is written.

    `fleet` (the loaded stacks) may be passed in when creating many customers in a row.
    """
    check_request(request)
    existing = customer_path(stacks_dir, request.name)
    if existing is not None:
        raise CustomerError(f"customer {request.name!r} already exists ({display_path(existing)})")
    facts = template_facts(template_path(stacks_dir))
    if (request.limit is not None or request.period is not None) and not facts.rate_limit_bindings:
        raise CustomerError("--limit/--period: the template declares no rate-limit binding")
    fleet = fleet or load_fleet(stacks_dir, worker_src=worker_src)
    served = served_hostnames(fleet.members).get(request.hostname.lower())
    if served is not None:
        raise CustomerError(
            f"hostname {request.hostname!r} is already served by {served.name} ({display_path(served.path)})"
        )
    ids = next_namespace_ids(
        used_namespace_ids(fleet.members, facts.account_id), len(facts.rate_limit_bindings)
    )
    text = render_overlay(request, facts, ids)
    final = customers_dir(stacks_dir) / f"{request.name}.yaml"
    member = _validated(final, text, fleet, worker_src)
    try:
        os.link(member.path, final)  # fails if the name was taken meanwhile
    except FileExistsError:
        raise CustomerError(f"customer {request.name!r} already exists ({display_path(final)})") from None
    except OSError as exc:
        raise CustomerError(f"cannot write {display_path(final)}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            member.path.unlink()
    return CreatedCustomer(final, member.stack, tuple(ids))


def _validated(final: Path, text: str, fleet: Fleet, worker_src: Path | None) -> Member:
    """Load `text` as the customer at `final` together with the fleet; raise the first problem.

    Returns the member loaded from a hidden temporary file in the same folder, which the caller links
    into place and removes.
    """
    shown_tmp, shown_final = "", display_path(final)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".yaml", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        shown_tmp = display_path(tmp)
        loaded = load_member(tmp, fleet.stacks_dir, worker_src)
        if not isinstance(loaded, Member):
            problem = failure_lines([loaded])[0]
            raise CustomerError(
                f"the new overlay does not validate: {problem.replace(shown_tmp, shown_final)}"
            )
        member = Member(CUSTOMER_PREFIX + final.stem, tmp, loaded.stack, loaded.sources)
        known = set(fleet_diagnostics(fleet.members))
        problems = [d for d in fleet_diagnostics([*fleet.members, member]) if d not in known]
        if problems:
            raise CustomerError(
                f"the new overlay breaks a fleet rule: {str(problems[0]).replace(shown_tmp, shown_final)}"
            )
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return member


def removal_steps(stacks_dir: Path, name: str) -> list[str]:
    """What to run to retire a customer; `customer remove` only prints them."""
    path = customer_path(stacks_dir, name)
    if path is None:
        raise CustomerError(
            f"no customer {name!r} (no {display_path(customers_dir(stacks_dir) / name)}.yaml)"
        )
    shown = display_path(path)
    return [
        f"1. If its data resources are protected (prod customers are by default), set `protection: {{data: false}}` "
        f"in {shown} and run `edgestack fleet up --only {name}` so the state drops `protect`.",
        f"2. edgestack fleet destroy --only {name} --confirm {name}",
        f"3. pulumi stack rm {CUSTOMER_PREFIX}{name}",
        f"4. Delete {shown} and commit. Its rate-limit namespace id is not handed out again.",
    ]
