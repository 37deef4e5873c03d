"""Fleet-wide isolation: names and ids that must be unique across stacks.

Each stack *claims* values (its `name_prefix`, Worker script, rate-limit namespace ids, AI Gateway id,
the physical name of every data resource, hostnames and route patterns). Two stacks claiming the same
value in the same scope collide. Names are scoped by `account_id`, because Cloudflare scopes them by
account; hostnames and route patterns are global, since DNS is.

A collision is one line at the second claim, naming the first claim's `file:line:col`:
`stacks/customers/b.yaml:3:14: name_prefix: 'acme' is also the name_prefix of customer-acme (stacks/customers/acme.yaml:3:14)`.
Names derived from `name_prefix` point at the `name_prefix` that produced them, which is what a user
changes; when two stacks share a prefix, only the prefix collision is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from ..spec import Stack
from ..spec.resources import route_host
from ..stackfile.diagnostics import Diagnostic
from ..stackfile.source import KeyPath, Position, SourceMap, format_key_path
from .members import Member

GLOBAL_SCOPE = "*"


class ClaimKind(StrEnum):
    NAME_PREFIX = "name_prefix"
    SCRIPT = "Worker script"
    NAMESPACE_ID = "rate-limit namespace_id"
    AI_GATEWAY = "AI Gateway id"
    KV = "KV namespace title"
    D1 = "D1 database name"
    R2 = "R2 bucket name"
    VECTORIZE = "Vectorize index name"
    QUEUE = "queue name"
    HOSTNAME = "hostname"
    ROUTE = "route pattern"


# Kinds whose value is the physical name of a data resource (the isolation property's subject).
DATA_KINDS = frozenset({ClaimKind.KV, ClaimKind.D1, ClaimKind.R2, ClaimKind.VECTORIZE, ClaimKind.QUEUE})


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    value: str
    scope: str  # account id, or GLOBAL_SCOPE
    stack: str
    key_path: KeyPath
    position: Position
    derived_from_prefix: bool = False

    @property
    def where(self) -> str:
        return f"{self.stack} ({self.position})"


def stack_claims(name: str, stack: Stack, sources: SourceMap) -> Iterator[Claim]:
    """Every value `stack` claims, with where it is written (or the `name_prefix` it derives from)."""
    account = stack.account_id
    prefix_path: KeyPath = ("name_prefix",)
    prefix_at = sources.value_position(prefix_path)

    def claim(
        kind: ClaimKind, value: str, path: KeyPath, *, scope: str = account, derived: bool = False
    ) -> Claim:
        if derived:  # no name written: the claim is the binding's, positioned at the prefix
            return Claim(
                kind,
                value,
                scope,
                name,
                path[:-1] if path[-1] in ("name", "title") else path,
                prefix_at,
                True,
            )
        return Claim(kind, value, scope, name, path, sources.value_position(path))

    yield claim(ClaimKind.NAME_PREFIX, stack.name_prefix, prefix_path)
    yield claim(ClaimKind.SCRIPT, stack.script_name, ("worker", "name"), derived=True)
    bindings = stack.bindings
    for binding, limit in bindings.rate_limits.items():
        yield claim(
            ClaimKind.NAMESPACE_ID,
            str(limit.namespace_id),
            ("bindings", "rate_limits", binding, "namespace_id"),
        )
    if stack.ai_gateway_id is not None:
        yield claim(ClaimKind.AI_GATEWAY, stack.ai_gateway_id, ("ai_gateway", "id"), derived=True)
    for binding, kv in bindings.kv.items():
        path: KeyPath = ("bindings", "kv", binding, "title")
        yield claim(ClaimKind.KV, kv.title or stack.resource_name(binding), path, derived=kv.title is None)
    named = (
        (ClaimKind.D1, "d1", bindings.d1),
        (ClaimKind.R2, "r2", bindings.r2),
        (ClaimKind.VECTORIZE, "vectorize", bindings.vectorize),
        (ClaimKind.QUEUE, "queues", bindings.queues),
    )
    for kind, section, specs in named:
        for binding, spec in specs.items():
            explicit = spec.name  # type: ignore[attr-defined]
            path = ("bindings", section, binding, "name")
            yield claim(kind, stack.resource_name(binding, explicit), path, derived=explicit is None)
    for i, domain in enumerate(stack.worker.custom_domains):
        yield claim(
            ClaimKind.HOSTNAME,
            domain.hostname.lower(),
            ("worker", "custom_domains", i, "hostname"),
            scope=GLOBAL_SCOPE,
        )
    for i, route in enumerate(stack.worker.routes):
        path = ("worker", "routes", i, "pattern")
        yield claim(ClaimKind.ROUTE, route.pattern.lower(), path, scope=GLOBAL_SCOPE)


def member_claims(member: Member) -> Iterator[Claim]:
    return stack_claims(member.name, member.stack, member.sources)


def _route_hosts(claims: Iterable[Claim]) -> Iterator[Claim]:
    """A route's host as a hostname claim of its own: a custom domain owns its whole hostname, so
    another stack's route on that host collides with it (two routes on one host do not)."""
    for c in claims:
        if c.kind is ClaimKind.ROUTE and "*" not in route_host(c.value):
            yield Claim(ClaimKind.HOSTNAME, route_host(c.value), c.scope, c.stack, c.key_path, c.position)


def collisions(claims: Iterable[Claim]) -> list[tuple[Claim, Claim]]:
    """(first, second) for every claim whose (kind, scope, value) another stack claimed first."""
    ordered = sorted(claims, key=lambda c: (c.stack, c.position))
    first: dict[tuple[ClaimKind, str, str], Claim] = {}
    out: list[tuple[Claim, Claim]] = []
    for c in ordered:
        key = (c.kind, c.scope, c.value)
        earlier = first.get(key)
        if earlier is None:
            first[key] = c
        elif earlier.stack != c.stack:
            out.append((earlier, c))
    return out


def _route_host_collisions(claims: list[Claim]) -> list[tuple[Claim, Claim]]:
    domains: dict[tuple[str, str], list[Claim]] = {}
    for c in claims:
        if c.kind is ClaimKind.HOSTNAME:
            domains.setdefault((c.scope, c.value), []).append(c)
    out = []
    for host in _route_hosts(claims):
        other = next((d for d in domains.get((host.scope, host.value), []) if d.stack != host.stack), None)
        if other is not None:
            out.append((other, host))
    return out


def collision_diagnostic(first: Claim, second: Claim) -> Diagnostic:
    what = second.kind.value
    detail = (
        f" ({format_key_path(second.key_path)}, derived from name_prefix)"
        if second.derived_from_prefix
        else ""
    )
    if (
        first.kind is ClaimKind.HOSTNAME
        and second.kind is ClaimKind.HOSTNAME
        and second.key_path[1] == "routes"
    ):
        message = f"route host {second.value!r} is a custom domain of {first.where}"
    else:
        message = f"{what} {second.value!r}{detail} is also used by {first.where}"
    shown_path = format_key_path(("name_prefix",) if second.derived_from_prefix else second.key_path)
    return Diagnostic(*second.position, shown_path, message + "; each must be unique across the fleet")


def fleet_diagnostics(members: Iterable[Member]) -> list[Diagnostic]:
    """Every cross-stack collision among `members`, one diagnostic each, sorted."""
    claims = [c for m in members for c in member_claims(m)]
    pairs = collisions(claims) + _route_host_collisions(claims)
    shared_prefix = {frozenset((a.stack, b.stack)) for a, b in pairs if a.kind is ClaimKind.NAME_PREFIX}
    out = set()
    for first, second in pairs:
        implied = second.derived_from_prefix and frozenset((first.stack, second.stack)) in shared_prefix
        if not implied:
            out.add(collision_diagnostic(first, second))
    return sorted(out)
