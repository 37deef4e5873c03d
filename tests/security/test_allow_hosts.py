"""`allow_hosts` of an http_get tool: dotted public names only (a single label resolves through the
resolver's search list or /etc/hosts, to loopback locally), and no `*.` pattern covering a public
suffix."""

from __future__ import annotations

import pytest
from app.agents.tools import ToolSpecError, parse_tool_spec


def spec(*hosts: str) -> dict[str, object]:
    return {"kind": "http_get", "allow_hosts": list(hosts)}


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("intranet", "single-label"),
        ("vm", "single-label"),
        ("*.vm", "covers the public suffix 'vm'"),
        ("*.lan", "not under a public top-level domain"),
        ("api.test", "not under a public top-level domain"),
        ("printer.lan", "not under a public top-level domain"),
        ("git.corp", "not under a public top-level domain"),
        ("host.x1", "not under a public top-level domain"),
        ("*.com", "covers the public suffix 'com'"),
        ("*.co.uk", "covers the public suffix 'co.uk'"),
        ("*.github.io", "covers the public suffix 'github.io'"),
        ("co.uk", "is a public suffix"),
    ],
)
def test_non_public_patterns_are_refused_naming_the_entry(pattern: str, says: str) -> None:
    with pytest.raises(ToolSpecError) as caught:
        parse_tool_spec("web", spec("api.example.com", pattern))
    assert caught.value.field == "allow_hosts[1]"
    assert says in caught.value.message


@pytest.mark.parametrize(
    "pattern",
    ["api.example.com", "*.example.com", "*.shop.co.uk", "docs.python.org", "user.github.io", "8.8.8.8", "xn--bcher-kva.com"],
)
def test_public_names_and_addresses_are_accepted(pattern: str) -> None:
    assert parse_tool_spec("web", spec(pattern)).options["allow_hosts"] == [pattern]
