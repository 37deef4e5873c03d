"""`edgestack customer new|remove`: the written overlay, the next free namespace id, refusals (one line,
nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.fleet.customers import next_namespace_ids
from infra.stackfile.load import load_stack
from tests.fleet.conftest import CliRun

ZONE = "ab" * 16


def listing(stacks: Path) -> list[str]:
    """Every file under customers/, hidden ones included (a leftover temp file would show)."""
    return sorted(p.name for p in (stacks / "customers").iterdir())


def test_new_writes_a_valid_overlay_with_the_next_namespace_id(stacks: Path, cli: CliRun) -> None:
    code, out, err = cli("customer", "new", "initech", "--zone-id", ZONE, "--hostname", "AI.Initech.example")
    assert (code, err) == (0, [])
    assert out == [
        "wrote stacks/customers/initech.yaml (stack customer-initech, rate-limit namespace_id 2003)"
    ]
    stack = load_stack(stacks / "customers" / "initech.yaml")
    assert stack.name_prefix == "initech"
    assert stack.zones["initech"].id == ZONE
    assert [d.hostname for d in stack.worker.custom_domains] == ["ai.initech.example"]
    limiter = stack.bindings.rate_limits["RATE_LIMITER"]
    assert (limiter.namespace_id, limiter.limit, limiter.period) == (2003, 300, 60)  # the template's limit
    assert stack.environment == "prod" and stack.protect_data
    code, out, _ = cli(
        "customer",
        "new",
        "hooli",
        "--zone-id",
        ZONE,
        "--hostname",
        "ai.hooli.example",
        "--limit",
        "50",
        "--period",
        "10",
    )
    assert out == ["wrote stacks/customers/hooli.yaml (stack customer-hooli, rate-limit namespace_id 2004)"]
    limiter = load_stack(stacks / "customers" / "hooli.yaml").bindings.rate_limits["RATE_LIMITER"]
    assert (limiter.namespace_id, limiter.limit, limiter.period) == (2004, 50, 10)
    assert cli("fleet", "validate")[0] == 0
    assert listing(stacks) == ["_template.yaml", "acme.yaml", "globex.yaml", "hooli.yaml", "initech.yaml"]


def test_namespace_ids_are_never_reused_below_the_highest() -> None:
    assert next_namespace_ids({1, 1001, 1004}, 1) == [2001]
    assert next_namespace_ids({2001, 2005, 1004}, 2) == [2006, 2007]  # 2002..2004 stay retired


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["acme", "--zone-id", ZONE, "--hostname", "ai.new.example"],
            "customer 'acme' already exists (stacks/customers/acme.yaml)",
        ),
        (
            ["Bad_Name", "--zone-id", ZONE, "--hostname", "ai.new.example"],
            "customer name 'Bad_Name' is not a valid slug: lowercase letters, digits and dashes, starting with a "
            "letter, at most 40 characters (the name_prefix rules)",
        ),
        (
            ["new", "--zone-id", ZONE, "--hostname", "ai.acme.example"],
            "hostname 'ai.acme.example' is already served by customer-acme (stacks/customers/acme.yaml)",
        ),
        (
            ["new", "--zone-id", ZONE, "--hostname", "API.example.com"],
            "hostname 'API.example.com' is already served by prod (stacks/prod.yaml)",
        ),
        (
            ["new", "--zone-id", "abc123", "--hostname", "ai.new.example"],
            "--zone-id 'abc123' is not a zone id (32 lowercase hex characters)",
        ),
        (
            ["new", "--zone-id", ZONE, "--hostname", "not a host"],
            "--hostname 'not a host' is not a hostname (letters, digits and dashes in dot-separated labels)",
        ),
        (
            ["new", "--zone-id", ZONE, "--hostname", "ai.new.example", "--limit", "0"],
            "--limit must be at least 1, got 0",
        ),
        # The prefix differs, but `acme-faq` + CACHE derives acme's FAQ_CACHE title `acme-faq-cache`.
        (
            ["acme-faq", "--zone-id", ZONE, "--hostname", "ai.new.example"],
            "the new overlay breaks a fleet rule: stacks/customers/acme-faq.yaml:3:14: name_prefix: KV namespace "
            "title 'acme-faq-cache' (bindings.kv.CACHE, derived from name_prefix) is also used by customer-acme "
            "(stacks/customers/acme.yaml:3:14); each must be unique across the fleet",
        ),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    stacks: Path, cli: CliRun, args: list[str], message: str
) -> None:
    before = listing(stacks)
    code, out, err = cli("customer", "new", *args)
    assert (code, out, err) == (1, [], [f"edgestack customer new: {message}"])
    assert listing(stacks) == before


def test_an_overlay_the_loader_rejects_is_refused(stacks: Path, cli: CliRun) -> None:
    """A problem only the loader sees (an unknown key the template now carries), positioned in the template."""
    template = stacks / "customers" / "_template.yaml"
    template.write_text(template.read_text() + "  r2:\n    DOCS:\n      name: Not_Valid\n")
    before = listing(stacks)
    code, _, err = cli("customer", "new", "initech", "--zone-id", ZONE, "--hostname", "ai.initech.example")
    assert code == 1 and len(err) == 1
    assert err[0].startswith(
        "edgestack customer new: the new overlay does not validate: stacks/customers/_template.yaml:"
    )
    assert listing(stacks) == before


def test_remove_prints_the_steps_and_changes_nothing(stacks: Path, cli: CliRun) -> None:
    code, out, _ = cli("customer", "remove", "acme")
    assert code == 0
    assert out[0] == "To remove customer acme (nothing was changed):"
    assert "  2. edgestack fleet destroy --only acme --confirm acme" in out
    assert "  3. pulumi stack rm customer-acme" in out
    assert (stacks / "customers" / "acme.yaml").is_file()
    assert cli("customer", "remove", "nope") == (
        1,
        [],
        ["edgestack customer remove: no customer 'nope' (no stacks/customers/nope.yaml)"],
    )
