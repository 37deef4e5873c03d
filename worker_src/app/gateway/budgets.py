"""Dollar budgets: reserve a request's maximum cost before the upstream call, settle its real cost
after, and `GET /v1/budgets`.

Which budgets apply to a request: `scope: stack` always; `scope: tenant` when the key's tenant
(its `scope`) is `match`, or for every tenant when `match` is unset; `scope: key` likewise for the
key's name. Anonymous requests (a public gateway) meet only stack budgets. Each (budget, subject)
is one `BudgetCounter` Durable Object (see `budget_counter.py` for the consistency it gives).

The reservation: the prompt estimate (4 characters per token) plus `max_tokens` (or the provider's
`default_max_tokens`), at the highest price among the candidates the request may reach. A candidate
without a price cannot be bounded, so a request that a hard budget covers is refused with 400 while
such a candidate is in its order. A reservation that would cross a hard limit answers 429
`budget_exceeded` naming the budget, with `retry-after` at the window's end; holds already taken for
the request's other budgets are released. Cache hits never reach this (they cost nothing).
Settling runs in `waitUntil` when the request ends, however it ends (an error settles zero; a
stream cut by the client settles what was produced); alerts then POST once per window per fraction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..http import HttpRequest, HttpResponse
from ..services import DurableObjectNamespace, Services
from ..web.auth import Principal
from ..web.errors import ApiError
from ..web.log import log_event
from .config import Budget, Candidate, GatewayConfig
from .tokens import estimate_prompt_tokens
from .translate import JsonObject

REMAINING_HEADER = "x-edgestack-budget-remaining"
COUNTER_PATH = "/budget"


class Window(NamedTuple):
    start_s: float
    end_s: float


def window_of(budget: Budget, now: float) -> Window:
    """The UTC day or calendar month holding `now`."""
    if budget.window == "day":
        start = now // 86_400 * 86_400
        return Window(start, start + 86_400)
    moment = datetime.fromtimestamp(now, tz=UTC)
    start_dt = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end_dt = (
        start_dt.replace(year=start_dt.year + 1, month=1)
        if start_dt.month == 12
        else start_dt.replace(month=start_dt.month + 1)
    )
    return Window(start_dt.timestamp(), end_dt.timestamp())


def subject_of(budget: Budget, principal: Principal) -> str | None:
    """The counter a budget keeps for this caller, or None when the budget does not cover it."""
    if budget.scope == "stack":
        return "stack"
    key = principal.key
    if key is None:
        return None
    value = key.name if budget.scope == "key" else key.scope
    if budget.match is not None and budget.match != value:
        return None
    return f"{budget.scope}:{value}"


def object_name(budget: Budget, subject: str) -> str:
    return f"{budget.name}|{subject}"


class Hold(NamedTuple):
    budget: Budget
    subject: str
    window: Window
    hold_id: str
    amount: float
    remaining: float


def _output_bound(config: GatewayConfig, candidate: Candidate, body: JsonObject) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return config.providers[candidate.provider].default_max_tokens


def max_cost(
    config: GatewayConfig, order: list[Candidate], body: JsonObject
) -> tuple[float, Candidate | None]:
    """(the most this request can cost, a candidate without a price or None)."""
    prompt = estimate_prompt_tokens(body)
    highest = 0.0
    for candidate in order:
        price = config.providers[candidate.provider].prices.get(candidate.model)
        if price is None:
            return 0.0, candidate
        cost = (prompt * price.input + _output_bound(config, candidate, body) * price.output) / 1_000_000
        highest = max(highest, cost)
    return highest, None


def _namespace(config: GatewayConfig, services: Services) -> DurableObjectNamespace:
    namespace = services.durable_objects.get(config.budget_binding or "")
    if namespace is None:
        raise ApiError(
            503, "misconfigured", "budgets are configured but their Durable Object binding is missing"
        )
    return namespace


async def _call(namespace: DurableObjectNamespace, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    status, body = await namespace.fetch(name, COUNTER_PATH, "POST", json.dumps(payload).encode())
    if status != 200:
        raise ApiError(
            503, "overloaded", f"budget counter unavailable (HTTP {status})", code="budget_unavailable"
        )
    result = json.loads(body)
    assert isinstance(result, dict)
    return result


def applicable(config: GatewayConfig, principal: Principal) -> list[tuple[Budget, str]]:
    out = []
    for budget in config.budgets:
        subject = subject_of(budget, principal)
        if subject is not None:
            out.append((budget, subject))
    return out


async def reserve(
    services: Services,
    config: GatewayConfig,
    principal: Principal,
    order: list[Candidate],
    body: JsonObject,
    request_id: str,
) -> tuple[Hold, ...]:
    """Hold the request's maximum cost in every budget that covers it. Raises `ApiError` (400/429)."""
    covering = applicable(config, principal)
    if not covering:
        return ()
    amount, unpriced = max_cost(config, order, body)
    if unpriced is not None:
        hard = next((b for b, _ in covering if b.hard), None)
        if hard is not None:
            raise ApiError(
                400,
                "invalid_request",
                f"model {unpriced.key} has no price, so it cannot spend against hard budget {hard.name!r}",
                param="model",
                code="model_not_priced",
            )
    namespace = _namespace(config, services)
    now = services.clock()
    holds: list[Hold] = []
    for budget, subject in covering:
        window = window_of(budget, now)
        payload = {
            "op": "reserve",
            "window": int(window.start_s * 1000),
            "now": int(now * 1000),
            "id": request_id,
            "amount": amount,
            "limit": budget.limit_usd,
            "hard": budget.hard,
        }
        try:
            result = await _call(namespace, object_name(budget, subject), payload)
        except ApiError:
            await release(services, config, holds)
            raise
        if not result.get("ok"):
            await release(services, config, holds)
            raise ApiError(
                429,
                "rate_limit",
                f"budget {budget.name!r} ({subject}) is spent: ${result.get('spent', 0):.4f} of "
                f"${budget.limit_usd:.2f} this {budget.window}, ${result.get('reserved', 0):.4f} held by requests in "
                f"flight; this request may cost up to ${amount:.4f}",
                code="budget_exceeded",
                retry_after_s=max(1, int(window.end_s - now + 0.999)),
                headers={REMAINING_HEADER: f"{float(result.get('remaining', 0.0)):.6f}"},
            )
        holds.append(Hold(budget, subject, window, request_id, amount, float(result["remaining"])))
    return tuple(holds)


def remaining_header(holds: tuple[Hold, ...]) -> dict[str, str]:
    """The tightest remaining amount among the request's budgets."""
    return {REMAINING_HEADER: f"{min(h.remaining for h in holds):.6f}"} if holds else {}


async def release(services: Services, config: GatewayConfig, holds: list[Hold]) -> None:
    for hold in holds:
        await _settle_one(services, config, hold, 0.0)


async def settle(services: Services, config: GatewayConfig, holds: tuple[Hold, ...], cost: float) -> None:
    """Record the real cost in every budget the request held, release the rest, fire due alerts."""
    for hold in holds:
        try:
            await _settle_one(services, config, hold, cost)
        except Exception as error:  # a lost settle is released by the hold's expiry, never a failed response
            log_event(
                "gateway",
                "budget_settle_failed",
                budget=hold.budget.name,
                error=type(error).__name__,
                detail=str(error)[:200],
            )


async def _settle_one(services: Services, config: GatewayConfig, hold: Hold, cost: float) -> None:
    budget = hold.budget
    result = await _call(
        _namespace(config, services),
        object_name(budget, hold.subject),
        {
            "op": "settle",
            "window": int(hold.window.start_s * 1000),
            "now": int(services.clock() * 1000),
            "id": hold.hold_id,
            "actual": cost,
            "limit": budget.limit_usd,
            "alert_at": list(budget.alert_at),
        },
    )
    for fraction in result.get("alerts") or ():
        await send_alert(services, budget, hold.subject, hold.window, float(fraction), float(result["spent"]))


async def send_alert(
    services: Services, budget: Budget, subject: str, window: Window, fraction: float, spent: float
) -> None:
    """POST the alert as JSON, HMAC-SHA256-signed with the budget's secret (`x-edgestack-signature`)."""
    if not budget.alert_webhook_url:
        return
    payload = {
        "type": "budget.alert",
        "budget": budget.name,
        "subject": subject,
        "alert_at": fraction,
        "limit_usd": budget.limit_usd,
        "spent_usd": round(spent, 6),
        "window": budget.window,
        "window_start": _iso(window.start_s),
        "window_end": _iso(window.end_s),
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {"content-type": "application/json"}
    secret = services.secrets.get(budget.alert_webhook_secret or "")
    if secret:
        import hashlib
        import hmac

        headers["x-edgestack-signature"] = (
            "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        )
    for attempt in range(3):
        try:
            reply = await services.fetch(
                budget.alert_webhook_url, method="POST", headers=headers, body=body, timeout_ms=10_000
            )
            await reply.read()
            if reply.status < 500:
                return
        except Exception as error:  # an unreachable webhook must not fail the settle
            log_event(
                "gateway",
                "budget_alert_failed",
                budget=budget.name,
                attempt=attempt + 1,
                error=type(error).__name__,
            )
        if attempt < 2:
            await services.sleep(0.5 * 2**attempt)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- GET /v1/budgets


def _subjects(config: GatewayConfig, budget: Budget) -> list[str]:
    """Every counter a budget keeps (one per key or tenant it covers)."""
    if budget.scope == "stack":
        return ["stack"]
    keys = list(config.keys_by_hash.values())
    values = sorted({k.name if budget.scope == "key" else k.scope for k in keys})
    if budget.match is not None:
        values = [v for v in values if v == budget.match]
    return [f"{budget.scope}:{v}" for v in values]


async def handle_budgets(
    request: HttpRequest, services: Services, config: GatewayConfig, principal: Principal, operator: bool
) -> HttpResponse:
    """`GET /v1/budgets`: spent, reserved and remaining per budget and subject the caller may see."""
    if not config.budgets:
        return HttpResponse.json({"object": "list", "data": []})
    namespace = _namespace(config, services)
    now = services.clock()
    tenant_of = {k.name: k.scope for k in config.keys_by_hash.values()}
    data = []
    for budget in config.budgets:
        for subject in _subjects(config, budget):
            if not operator and not _may_see(subject, principal, tenant_of):
                continue
            window = window_of(budget, now)
            state = await _call(
                namespace,
                object_name(budget, subject),
                {"op": "state", "window": int(window.start_s * 1000), "now": int(now * 1000)},
            )
            spent, reserved = float(state["spent"]), float(state["reserved"])
            data.append(
                {
                    "budget": budget.name,
                    "scope": budget.scope,
                    "subject": subject,
                    "mode": "hard" if budget.hard else "soft",
                    "window": budget.window,
                    "limit_usd": budget.limit_usd,
                    "spent_usd": round(spent, 6),
                    "reserved_usd": round(reserved, 6),
                    "remaining_usd": round(max(0.0, budget.limit_usd - spent - reserved), 6),
                    "window_end": _iso(window.end_s),
                }
            )
    return HttpResponse.json({"object": "list", "data": data})


def _may_see(subject: str, principal: Principal, tenant_of: dict[str, str]) -> bool:
    key = principal.key
    if key is None:
        return False
    kind, _, value = subject.partition(":")
    if key.admin:
        return (kind == "tenant" and value == key.scope) or (
            kind == "key" and tenant_of.get(value) == key.scope
        )
    return kind == "key" and value == key.name
