"""The http_get tool's SSRF guard (OWASP SSRF prevention cheat sheet; cloudflare-facts.md "SSRF").

Fetches go to a scripted Fetcher that behaves like `fetch(url, {redirect: "manual"})` on Workers
(https://developers.cloudflare.com/workers/runtime-apis/fetch/): 3xx responses come back unfollowed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents_testing import ScriptedWeb
from app.agents.ssrf import BlockedUrl, FetchPolicy, check_url, guarded_get
from app.agents.tools import ToolSpecError, parse_tool_spec

ALLOW = ("*.example.com", "example.com", "8.8.8.8", "[2001:4860:4860::8888]", "api.partner.test")
OWN = ("mystack.dev",)

BLOCKED = {
    # scheme, userinfo, port, malformed
    "http://example.com/": "only https",
    "ftp://example.com/": "only https",
    "//example.com/": "only https",
    "https://user:pw@example.com/": "user info",
    "https://example.com@127.0.0.1/": "user info",
    "https://example.com:8443/": "default https port",
    "https://example.com\\@127.0.0.1/": "backslash",
    "https://exa mple.com/": "whitespace",
    "https://example.com/\r\nHost: x": "control",
    # loopback, private, link-local, metadata, unspecified, CGNAT, broadcast, reserved: dotted
    "https://127.0.0.1/": "non-public IP",
    "https://10.1.2.3/": "non-public IP",
    "https://172.16.0.1/": "non-public IP",
    "https://192.168.1.1/": "non-public IP",
    "https://169.254.169.254/latest/meta-data/": "non-public IP",
    "https://0.0.0.0/": "non-public IP",
    "https://100.64.0.1/": "non-public IP",
    "https://255.255.255.255/": "non-public IP",
    "https://240.0.0.1/": "non-public IP",
    # other spellings of 127.0.0.1 / 169.254.169.254 the WHATWG URL parser accepts
    "https://2130706433/": "non-public IP",  # decimal
    "https://017700000001/": "non-public IP",  # octal, one part
    "https://0177.0.0.1/": "non-public IP",  # octal part
    "https://0x7f.0.0.1/": "non-public IP",  # hex part
    "https://0x7f000001/": "non-public IP",  # hex, one part
    "https://127.1/": "non-public IP",  # short form
    "https://127.0.1/": "non-public IP",
    "https://0xA9.0xFE.0xA9.0xFE/": "non-public IP",  # metadata in hex
    "https://127.0.0.1./": "non-public IP",  # trailing dot
    "https://%31%32%37.0.0.1/": "non-public IP",  # percent-encoded
    "https://0/": "non-public IP",
    "https://1.2.3.4.5/": "not a valid IPv4",
    "https://256.0.0.1/": "not a valid IPv4",
    # IPv6: loopback, unique-local, link-local, IPv4-mapped, NAT64 (well-known and local-use), 6to4, compat
    "https://[::1]/": "non-public IP",
    "https://[fc00::1]/": "non-public IP",
    "https://[fe80::1]/": "non-public IP",
    "https://[::ffff:127.0.0.1]/": "non-public IP",
    "https://[::ffff:7f00:1]/": "non-public IP",
    "https://[::ffff:169.254.169.254]/": "non-public IP",
    "https://[64:ff9b::127.0.0.1]/": "non-public IP",
    "https://[64:ff9b::a9fe:a9fe]/": "non-public IP",
    "https://[64:ff9b:1::808:808]/": "non-public IP",
    "https://[2002:7f00:1::]/": "non-public IP",
    "https://[::127.0.0.1]/": "non-public IP",
    "https://[::]/": "non-public IP",
    # names
    "https://localhost/": "local or internal",
    "https://LOCALHOST./": "local or internal",
    "https://api.localhost/": "local or internal",
    "https://printer.local/": "local or internal",
    "https://db.internal/": "local or internal",
    "https://router.home.arpa/": "local or internal",
    "https://myworker.acct.workers.dev/": "local or internal",
    "https://mystack.dev/admin": "belongs to this stack",
    "https://api.mystack.dev/v1/usage": "belongs to this stack",
    "https://xn--e1afmkfd.example.com%2F@x/": "user info",
    "https://пример.example.com/": "not ASCII",
    "https://evil.test/": "not on this tool's allow_hosts",
    "https://example.com.evil.test/": "not on this tool's allow_hosts",
}


def test_every_blocked_form_is_refused_with_a_reason() -> None:
    """One list of every URL form the guard must refuse, each with the reason it gives."""
    wrong = {}
    for url, reason in BLOCKED.items():
        try:
            check_url(url, ALLOW + ("localhost", "printer.local", "mystack.dev", "*.mystack.dev"), OWN)
        except BlockedUrl as error:
            if reason not in str(error):
                wrong[url] = f"refused, but for: {error}"
            continue
        wrong[url] = "allowed"
    assert wrong == {}


@pytest.mark.parametrize(
    ("url", "fetched"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("https://API.Example.com./x", "https://api.example.com/x"),
        ("https://example.com:443", "https://example.com/"),
        ("https://8.8.8.8/dns", "https://8.8.8.8/dns"),
        ("https://[2001:4860:4860::8888]/", "https://[2001:4860:4860::8888]/"),
    ],
)
def test_allowed_urls_are_rebuilt_from_the_checked_parts(url: str, fetched: str) -> None:
    assert check_url(url, ALLOW, OWN).url == fetched


def policy(**overrides: Any) -> FetchPolicy:
    base = {
        "allow_hosts": ALLOW,
        "own_hosts": OWN,
        "max_bytes": 1000,
        "content_types": ("text/*", "application/json"),
        "headers": {
            "authorization": "Bearer tool-secret",
            "x-api-key": "k",
            "cookie": "c=1",
            "accept": "*/*",
        },
        "timeout_ms": 1000,
    }
    return FetchPolicy(**{**base, **overrides})


def redirect(location: str) -> tuple[int, dict[str, str], bytes]:
    return 302, {"location": location}, b""


def test_redirects_are_checked_at_every_hop_and_tool_headers_stay_on_the_first_host() -> None:
    web = ScriptedWeb(
        {
            "https://example.com/start": redirect("/next"),
            "https://example.com/next": redirect("https://api.partner.test/data"),
            "https://api.partner.test/data": (200, {"content-type": "text/plain; charset=utf-8"}, b"hello"),
        }
    )
    result = asyncio.run(guarded_get(web, "https://example.com/start", policy()))
    assert (result.status, result.text, result.redirects, result.url) == (
        200,
        "hello",
        2,
        "https://api.partner.test/data",
    )
    sent = [headers for _, headers in web.requests]
    assert sent[0] == sent[1] == policy().headers
    assert sent[2] == {}  # every tool-set header stays on the first host


@pytest.mark.parametrize(
    "location",
    [
        "http://example.com/plain",
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://[::ffff:10.0.0.1]/",
        "https://localhost/",
        "https://evil.test/",
        "//169.254.169.254/",
    ],
)
def test_a_redirect_to_a_blocked_target_is_refused(location: str) -> None:
    web = ScriptedWeb({"https://example.com/r": redirect(location)})
    with pytest.raises(BlockedUrl):
        asyncio.run(guarded_get(web, "https://example.com/r", policy()))
    assert len(web.requests) == 1


def test_more_than_five_redirects_are_refused() -> None:
    web = ScriptedWeb({f"https://example.com/{i}": redirect(f"/{i + 1}") for i in range(10)})
    with pytest.raises(BlockedUrl, match="more than 5 redirects"):
        asyncio.run(guarded_get(web, "https://example.com/0", policy()))
    assert len(web.requests) == 6


def test_the_body_is_capped_while_streaming_and_content_types_are_allow_listed() -> None:
    class CountingWeb(ScriptedWeb):
        read = 0

        async def __call__(self, url: str, **kwargs: Any) -> Any:
            response = await super().__call__(url, **kwargs)
            inner = response.body

            async def counted() -> Any:
                async for chunk in inner:
                    CountingWeb.read += len(chunk)
                    yield chunk

            response.body = counted()
            return response

    web = CountingWeb(
        {
            "https://example.com/big": (200, {"content-type": "text/plain"}, b"a" * 100_000),
            "https://example.com/bin": (200, {"content-type": "application/octet-stream"}, b"\x00" * 10),
        }
    )
    result = asyncio.run(guarded_get(web, "https://example.com/big", policy(max_bytes=1500)))
    assert result.truncated and len(result.text) == 1500
    assert CountingWeb.read <= 2048  # stopped after the chunk that crossed the cap
    with pytest.raises(BlockedUrl, match="content type 'application/octet-stream'"):
        asyncio.run(guarded_get(web, "https://example.com/bin", policy()))


# ---------------------------------------------------------------- tool specs


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"kind": "shell"}, "kind", "unknown tool kind 'shell'"),
        ({}, "kind", "is required"),
        ({"kind": "http_get"}, "allow_hosts", "non-empty list"),
        ({"kind": "http_get", "allow_hosts": ["127.0.0.1"]}, "allow_hosts[0]", "non-public IP"),
        ({"kind": "http_get", "allow_hosts": ["*.internal"]}, "allow_hosts[0]", "local or internal"),
        ({"kind": "http_get", "allow_hosts": ["mystack.dev"]}, "allow_hosts[0]", "belongs to this stack"),
        (
            {"kind": "http_get", "allow_hosts": ["a.com"], "headers": {"Host": "x"}},
            "headers.Host",
            "not a header",
        ),
        ({"kind": "kv_lookup", "allow_hosts": ["a.com"]}, "allow_hosts", "not a field of a kv_lookup tool"),
        ({"kind": "kv_lookup", "prefix": "../x y"}, "prefix", "at most 128"),
        ({"kind": "kv_lookup", "parameters": {"type": "string"}}, "parameters.type", "must be 'object'"),
        ({"kind": "kv_lookup", "parameters": []}, "parameters", "JSON schema object"),
        (
            {"kind": "kv_lookup", "parameters": {"type": "object", "properties": {"key": {"type": "strin"}}}},
            "parameters.properties.key.type",
            "unknown JSON schema type",
        ),
        (
            {"kind": "kv_lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
            "parameters.properties",
            "must declare 'key'",
        ),
        (
            {
                "kind": "kv_lookup",
                "parameters": {"type": "object", "properties": {"key": {}}, "required": ["nope"]},
            },
            "parameters.required",
            "undeclared properties: nope",
        ),
        ({"kind": "schedule", "requires_approval": "yes"}, "requires_approval", "true or false"),
        ({"kind": "schedule", "timeout_ms": 5}, "timeout_ms", "from 100 to 120000"),
    ],
)
def test_bad_tool_specs_name_the_field(spec: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ToolSpecError) as caught:
        parse_tool_spec("t", spec, OWN)
    assert caught.value.field == field and message in caught.value.message


def test_a_good_spec_round_trips_with_the_kind_defaults() -> None:
    spec = parse_tool_spec("weather", {"kind": "http_get", "allow_hosts": ["API.weather.example.com"]}, OWN)
    assert spec.parameters["required"] == ["url"] and spec.options == {"allow_hosts": ["api.weather.example.com"]}
    assert parse_tool_spec("weather", spec.to_json(), OWN) == spec
    assert spec.openai()["function"]["name"] == "weather"
