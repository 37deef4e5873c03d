"""Release policy rules: plain functions over the resource graph.

One source of rules, two entry points: `edgestack policy check` runs them on the offline synth
graph, and the CrossGuard pack in `policy/` runs the same functions on a real `pulumi preview`
(`pulumi preview --policy-pack policy`). Each rule has an id, a severity and yields one-line
findings naming the resource. A stack file exempts itself from a rule under
`policy.exemptions` with a reason; an exempted finding is still shown, and never blocks.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from infra.plan.bundle import (
    DATA_MODULE,
    GZIP_LIMIT_FREE,
    GZIP_LIMIT_PAID,
    MIB,
    UNCOMPRESSED_LIMIT,
    Bundle,
    Module,
)
from infra.plan.planned_resource import Token
from infra.spec import PolicyRuleId, Stack
from infra.spec.resources import route_domain
from infra.stackfile.load import looks_like_secret_var

from .graph import DATA_TYPES, Graph, GraphResource

Severity = Literal["mandatory", "advisory"]
RULE_IDS: tuple[str, ...] = get_args(PolicyRuleId)
_EDGESTACK_BINDINGS = ("EDGESTACK_",)


@dataclass(frozen=True)
class ZoneInfo:
    key: str
    id: str
    domain: str | None


@dataclass(frozen=True)
class PolicyContext:
    """What the rules know beyond the graph: the stack file's environment and policy settings."""

    stack_name: str
    environment: str
    paid_plan: bool
    zones: tuple[ZoneInfo, ...]
    exemptions: Mapping[str, str]
    max_compatibility_age_days: int
    size_margin: float
    today: dt.date

    @classmethod
    def from_stack(cls, stack_name: str, stack: Stack, *, today: dt.date) -> PolicyContext:
        return cls(
            stack_name=stack_name,
            environment=stack.environment,
            paid_plan=stack.worker.paid_plan,
            zones=tuple(ZoneInfo(key, zone.id, zone.domain) for key, zone in sorted(stack.zones.items())),
            exemptions={str(rule): reason for rule, reason in stack.policy.exemptions.items()},
            max_compatibility_age_days=stack.policy.compatibility_date_max_age_days,
            size_margin=stack.policy.bundle_size_margin,
            today=today,
        )

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


@dataclass(frozen=True)
class Finding:
    resource: str
    message: str


Check = Callable[[Graph, PolicyContext], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    description: str
    check: Check = field(repr=False)


@dataclass(frozen=True)
class Violation:
    rule: str
    severity: Severity
    stack: str
    resource: str
    message: str
    exemption: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == "mandatory" and self.exemption is None

    def __str__(self) -> str:
        status = f"exempt ({self.exemption})" if self.exemption is not None else self.severity
        return f"{self.stack}: {status}: {self.rule}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- the rules ----------------------------------------------------------------------------------


def protect_prod_data(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.prod:
        return
    for resource in graph.of_type(*sorted(DATA_TYPES)):
        if not resource.protect:
            yield Finding(
                resource.name,
                f"{resource.label} holds prod data but is not protected "
                "(drop `protect: false` / `protection.data: false`)",
            )


def no_plaintext_secrets(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    seen: set[str] = set()
    for upload, name, text in graph.plain_text_bindings():
        if name.startswith(_EDGESTACK_BINDINGS) or name in seen:
            continue
        if looks_like_secret_var(name, text):
            seen.add(name)
            yield Finding(
                upload.name,
                f"{upload.label} binds {name} as a plain-text var but it looks like a secret; "
                "move it to worker.secrets",
            )


def public_gateway_rate_limit(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.prod:
        return
    gateway = graph.runtime_config().get("gateway")
    if not isinstance(gateway, dict) or not gateway.get("enabled", True) or not gateway.get("public"):
        return
    if not gateway.get("rate_limit"):
        version = next(graph.of_type(Token.WORKER_VERSION.value), None)
        yield Finding(
            version.name if version else ctx.stack_name,
            f"{version.label if version else ctx.stack_name}: gateway.public is true without "
            "gateway.rate_limit; a public prod gateway must be rate limited",
        )


def prod_observability(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.prod:
        return
    for worker in graph.of_type(Token.WORKER.value):
        observability = worker.props.get("observability") or {}
        if not (isinstance(observability, Mapping) and observability.get("enabled")):
            yield Finding(worker.name, f"{worker.label} has observability off in prod (worker.observability)")


def _base64_size(text: str) -> int:
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def _gzip_bound(size: int) -> int:
    """An upper bound of gzip's output for `size` input bytes (stored blocks, header and trailer)."""
    return size + 5 * (size // 16_383 + 1) + 18


def _upload_modules(upload: GraphResource) -> list[tuple[str, str, str]] | None:
    """(name, content type, base64) of each module; None when some content is unknown or secret."""
    out = []
    for entry in upload.props.get("modules") or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("contentBase64"), str):
            return None
        out.append((str(entry.get("name")), str(entry.get("contentType", DATA_MODULE)), entry["contentBase64"]))
    return out


def _gzip_size(modules: list[tuple[str, str, str]]) -> int | None:
    try:
        decoded = tuple(
            Module.of(name, content_type, base64.b64decode(text, validate=True))
            for name, content_type, text in modules
        )
    except (binascii.Error, ValueError):
        return None
    return Bundle("", decoded, "").gzip_size


def bundle_size_margin(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    gzip_limit = GZIP_LIMIT_PAID if ctx.paid_plan else GZIP_LIMIT_FREE
    keep = 1.0 - ctx.size_margin
    for upload in graph.of_type(Token.WORKER_VERSION.value):
        modules = _upload_modules(upload)
        if not modules:
            continue
        size = sum(_base64_size(text) for _, _, text in modules)
        checks = [(size, UNCOMPRESSED_LIMIT, "uncompressed")]
        if _gzip_bound(size) > gzip_limit * keep:  # else gzip cannot reach the limit: skip compressing
            compressed = _gzip_size(modules)
            if compressed is not None:
                checks.insert(0, (compressed, gzip_limit, "gzip"))
        for measured, limit, what in checks:
            if measured > limit * keep:
                yield Finding(
                    upload.name,
                    f"{upload.label} is {measured / MIB:.2f} MiB {what}, within {ctx.size_margin:.0%} of the "
                    f"{limit // MIB} MiB limit",
                )


def compatibility_date_age(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    for upload in graph.of_type(Token.WORKER_VERSION.value):
        text = upload.props.get("compatibilityDate")
        try:
            date = dt.date.fromisoformat(str(text))
        except ValueError:
            continue
        age = (ctx.today - date).days
        if age > ctx.max_compatibility_age_days:
            yield Finding(
                upload.name,
                f"{upload.label} has compatibility_date {date.isoformat()}, {age} days old "
                f"(limit {ctx.max_compatibility_age_days}, policy.compatibility_date_max_age_days)",
            )


def routes_on_declared_zones(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    zones = {zone.id: zone for zone in ctx.zones}
    for resource in graph.of_type(Token.WORKERS_ROUTE.value, Token.CUSTOM_DOMAIN.value):
        host = route_domain(str(resource.props.get("pattern") or resource.props.get("hostname") or ""))
        zone_id = str(resource.props.get("zoneId"))
        zone = zones.get(zone_id)
        if zone is None:
            yield Finding(resource.name, f"{resource.label} is on zone id {zone_id}, not declared under zones")
        elif zone.domain is not None and host != zone.domain and not host.endswith(f".{zone.domain}"):
            yield Finding(
                resource.name, f"{resource.label}: {host} is not under zone {zone.key} ({zone.domain})"
            )


def no_workers_dev_in_prod(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.prod:
        return
    for subdomain in graph.of_type(Token.SCRIPT_SUBDOMAIN.value):
        if subdomain.props.get("enabled") is True:
            yield Finding(
                subdomain.name,
                f"{subdomain.label} serves the prod Worker on workers.dev (worker.workers_dev: true); "
                "exempt it under policy.exemptions if intended",
            )


def no_demo_route_in_prod(graph: Graph, ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.prod:
        return
    worker = graph.runtime_config().get("worker")
    if isinstance(worker, Mapping) and worker.get("demo_route") is True:
        version = next(graph.of_type(Token.WORKER_VERSION.value), None)
        yield Finding(
            version.name if version else ctx.stack_name,
            f"{version.label if version else ctx.stack_name}: worker.demo_route serves GET /demo, which writes "
            "tenant-`demo` documents and vectors without a key; never on prod",
        )


RULES: tuple[Rule, ...] = (
    Rule("protect-prod-data", "mandatory", "Prod KV, D1, R2 and Vectorize resources are protected", protect_prod_data),
    Rule("no-plaintext-secrets", "mandatory", "No secret-looking plain-text var", no_plaintext_secrets),
    Rule(
        "public-gateway-rate-limit",
        "mandatory",
        "A public gateway in prod has a rate limit",
        public_gateway_rate_limit,
    ),
    Rule("prod-observability", "advisory", "Observability is on in prod", prod_observability),
    Rule(
        "bundle-size-margin",
        "mandatory",
        "The Worker bundle stays under the plan's size limit with a margin",
        bundle_size_margin,
    ),
    Rule(
        "compatibility-date-age",
        "advisory",
        "The compatibility date is no older than the configured number of days",
        compatibility_date_age,
    ),
    Rule(
        "routes-on-declared-zones",
        "mandatory",
        "Every route and custom domain is on a declared zone",
        routes_on_declared_zones,
    ),
    Rule(
        "no-workers-dev-in-prod",
        "mandatory",
        "A prod Worker is not served on workers.dev unless exempted",
        no_workers_dev_in_prod,
    ),
    Rule(
        "no-demo-route-in-prod",
        "mandatory",
        "A prod Worker does not serve the /demo route",
        no_demo_route_in_prod,
    ),
)


def rule(rule_id: str) -> Rule:
    for candidate in RULES:
        if candidate.id == rule_id:
            return candidate
    raise KeyError(rule_id)


def run_rule(the_rule: Rule, graph: Graph, ctx: PolicyContext) -> list[Violation]:
    exemption = ctx.exemptions.get(the_rule.id)
    return [
        Violation(the_rule.id, the_rule.severity, ctx.stack_name, f.resource, f.message, exemption)
        for f in the_rule.check(graph, ctx)
    ]


def check_graph(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Every rule's violations for one stack, in rule order."""
    return [violation for the_rule in RULES for violation in run_rule(the_rule, graph, ctx)]
