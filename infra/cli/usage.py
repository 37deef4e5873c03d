"""`edgestack usage [STACK | URL] --since 24h --by alias|provider|key|model|tenant`: a gateway's usage.

Reads `GET /v1/usage` of a running gateway (the same numbers as the dashboard) with the key in
`$EDGESTACK_API_KEY` (or the variable `--key-env` names). STACK resolves to the stack's first custom
domain, else its first route's host, over https.
"""

from __future__ import annotations

import json
import os
import re
import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from .app import CommandError, app


class UsageGroup(StrEnum):
    ALIAS = "alias"
    PROVIDER = "provider"
    KEY = "key"
    MODEL = "model"
    TENANT = "tenant"


class UsageFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86_400}


def parse_since(text: str, now: float) -> int:
    """`30m`, `24h`, `7d` -> unix seconds that long before `now`."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--since: expected a duration such as 30m, 24h or 7d, got {text!r}")
    return int(now) - int(match.group(1)) * _UNIT_S[match.group(2)]


def gateway_url(target: str) -> str:
    """A URL as given, or a stack's public https origin."""
    if target.startswith(("http://", "https://")):
        return target.rstrip("/")
    from infra.spec.resources import route_domain
    from infra.stackfile.load import load_stack
    from infra.stackfile.names import resolve_stack_path

    stack = load_stack(resolve_stack_path(target))
    hosts = [d.hostname for d in stack.worker.custom_domains] + [
        route_domain(r.pattern) for r in stack.worker.routes
    ]
    if not hosts:
        raise CommandError(f"stack {target!r} has no custom domain or route: pass the gateway's URL instead")
    return f"https://{hosts[0]}"


def _money(value: Any) -> str:
    return f"${float(value or 0):,.4f}"


def _ms(value: Any) -> str:
    return "" if value is None else f"{value:,} ms"


def render(body: dict[str, Any], group: str) -> tuple[list[str], list[list[str]]]:
    headers = [
        group,
        "requests",
        "errors",
        "input tokens",
        "output tokens",
        "cost",
        "cache hits",
        "p50",
        "p95",
    ]
    rows = [
        [
            str(row.get(group) if row.get(group) is not None else "(none)"),
            f"{row['requests']:,}",
            f"{row['errors']:,}",
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            _money(row["cost_usd"]),
            f"{row['cache_hits']:,}",
            _ms(row.get("latency_ms_p50")),
            _ms(row.get("latency_ms_p95")),
        ]
        for row in body["data"]
    ]
    return headers, rows


@app.command(
    "usage",
    help=(
        "Show a running gateway's usage (GET /v1/usage) grouped by route alias, provider, key, model or tenant. "
        "TARGET is a stack name or file (its first custom domain or route host) or a URL; the key is read from "
        "$EDGESTACK_API_KEY."
    ),
    short_help="show a running gateway's usage by alias, provider, key, model or tenant",
)
def usage(
    target: Annotated[
        str, typer.Argument(metavar="STACK|URL", help="stack name or file, or the gateway's URL")
    ],
    since: Annotated[str, typer.Option("--since", help="how far back: 30m, 24h, 7d")] = "24h",
    by: Annotated[UsageGroup, typer.Option("--by", help="grouping")] = UsageGroup.ALIAS,
    output_format: Annotated[UsageFormat, typer.Option("--format", help="output format")] = UsageFormat.TABLE,
    key_env: Annotated[
        str, typer.Option("--key-env", help="environment variable holding the key")
    ] = "EDGESTACK_API_KEY",
) -> int:
    import httpx

    from infra.terminal import print_table

    since_s = parse_since(since, time.time())
    url = gateway_url(target)
    key = os.environ.get(key_env, "")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        reply = httpx.get(
            f"{url}/v1/usage", params={"since": since_s, "group_by": by.value}, headers=headers, timeout=30
        )
    except httpx.HTTPError as error:
        raise CommandError(f"{url}: {error}") from None
    try:
        body = reply.json()
    except ValueError:
        raise CommandError(f"{url}/v1/usage answered HTTP {reply.status_code} without JSON") from None
    if reply.status_code != 200:
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        raise CommandError(f"{url}/v1/usage: HTTP {reply.status_code}: {message or reply.text[:200]}")
    if output_format is UsageFormat.JSON:
        print(json.dumps(body, indent=2))
        return 0
    print(f"usage {url} by {by.value}, {body['since']} to {body['until']} ({body['scope']})")
    print_table(*render(body, by.value))
    return 0
