"""`edgestack usage TARGET --since --by [--format json]` against a running gateway (the in-process
harness): the same rows as `GET /v1/usage`, as a table or JSON; bad input is one line."""

from __future__ import annotations

import json

import httpx
import pytest
from gateway_testing import route, section
from harness.planned import key_sha256

from infra.cli import main
from infra.cli.usage import gateway_url

KEYS = {"ops": {"sha256": key_sha256("sk-ops"), "admin": True}, "ann": {"sha256": key_sha256("sk-ann")}}


def test_usage_by_alias_as_a_table_and_as_json(gateway, fresh_upstreams, capsys, monkeypatch) -> None:
    gw = gateway(
        section(
            fresh_upstreams,
            {"a": route(("oa", "gpt-a")), "b": route(("an", "claude-c"))},
            public=False,
            keys=KEYS,
        )
    )
    for model in ("a", "a", "b"):
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        httpx.post(
            f"{gw.base_url}/v1/chat/completions",
            json=body,
            headers={"authorization": "Bearer sk-ann"},
            timeout=30,
        )
    gw.drain()
    monkeypatch.setenv("EDGESTACK_API_KEY", "sk-ops")
    assert main(["usage", gw.base_url, "--since", "1h", "--by", "alias"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"usage {gw.base_url} by alias") and lines[1].split()[:3] == [
        "alias",
        "requests",
        "errors",
    ]
    assert [line.split()[:2] for line in lines[2:]] == [["a", "2"], ["b", "1"]]
    assert main(["usage", gw.base_url, "--by", "provider", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {row["provider"]: row["requests"] for row in data["data"]} == {"oa": 2, "an": 1}
    monkeypatch.setenv("EDGESTACK_API_KEY", "sk-wrong")
    assert main(["usage", gw.base_url]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"edgestack usage: {gw.base_url}/v1/usage: HTTP 401: invalid API key"
    )


def test_bad_since_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "http://127.0.0.1:9", "--since", "yesterday"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "edgestack usage: --since: expected a duration such as 30m, 24h or 7d, got 'yesterday'"
    )


def test_a_stack_resolves_to_its_public_origin() -> None:
    assert gateway_url("prod") == "https://ai.example.com"  # its custom domain
    assert gateway_url("http://127.0.0.1:8787/") == "http://127.0.0.1:8787"
