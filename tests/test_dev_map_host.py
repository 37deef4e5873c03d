"""`edgestack dev --map-host`: the flag's parsing, that it reaches only the local host config (and the
banner), and that a stack file cannot set it. The mapping itself is exercised on the real runtime by
tests/agents/test_agents_mcp_dev_runtime.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.dev.host_map import MapHostError, parse_map_host, parse_map_hosts
from tests.test_crossref import messages


def test_a_mapping_is_a_dns_name_and_a_loopback_http_port() -> None:
    assert parse_map_host("MCP.Example.com=http://127.0.0.1:9000") == ("mcp.example.com", "http://127.0.0.1:9000")
    assert parse_map_hosts(["a.test=http://localhost:1", "b.test=http://[::1]:2/"]) == {
        "a.test": "http://localhost:1",
        "b.test": "http://[::1]:2",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mcp.example.com", "expected HOST=http://127.0.0.1:PORT"),
        ("127.0.0.1=http://127.0.0.1:9000", "is not a DNS host name"),
        ("mcp.example.com=https://127.0.0.1:9000", "must be http://127.0.0.1:PORT"),
        ("mcp.example.com=http://10.0.0.1:9000", "must be http://127.0.0.1:PORT"),
        ("mcp.example.com=http://127.0.0.1", "must be http://127.0.0.1:PORT"),
        ("mcp.example.com=http://127.0.0.1:9000/mcp", "must be http://127.0.0.1:PORT"),
    ],
)
def test_bad_mappings_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(MapHostError, match=message):
        parse_map_host(value)


def test_one_host_mapped_twice_is_refused() -> None:
    with pytest.raises(MapHostError, match="mapped twice"):
        parse_map_hosts(["a.test=http://127.0.0.1:1", "a.test=http://127.0.0.1:2"])


def test_the_cli_refuses_a_bad_flag_with_one_line() -> None:
    from tests.runtime.harness import run_cli

    result = run_cli("dev", "--map-host", "a.test=http://10.0.0.1:80", "--no-install")
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("edgestack dev: --map-host:")


def test_the_stack_file_cannot_set_it(tmp_path: Path) -> None:
    found = messages(tmp_path, {"worker": {"map_hosts": {"a.test": "http://127.0.0.1:1"}}})
    assert found and all("map_hosts" in m for m in found)
