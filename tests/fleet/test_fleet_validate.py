"""`edgestack fleet validate`: collisions across stacks, with file:line:col for both sides."""

from __future__ import annotations

from pathlib import Path

from tests.fleet.conftest import CliRun, write

ACME = "stacks/customers/acme.yaml"


def overlay(
    name: str, *, namespace_id: int, hostname: str | None = None, routes: str = "", extra: str = ""
) -> str:
    host = hostname or f"ai.{name}.example"
    return (
        f"extends: _template.yaml\nname_prefix: {name}\n"
        f'zones:\n  z:\n    id: "{"4" * 32}"\n'
        f"worker:\n  custom_domains:\n    - hostname: {host}\n      zone: z\n{routes}"
        f"bindings:\n  rate_limits:\n    RATE_LIMITER:\n      namespace_id: {namespace_id}\n{extra}"
    )


def test_the_shipped_fleet_validates(cli: CliRun) -> None:
    assert cli("fleet", "validate") == (
        0,
        [],
        ["edgestack fleet validate: 7 stack(s) (2 customer(s)) in 2 account(s) OK"],
    )


def test_a_shared_name_prefix_is_one_line_with_both_positions(stacks: Path, cli: CliRun) -> None:
    write(stacks / "customers" / "copy.yaml", overlay("acme", namespace_id=2999, hostname="ai.copy.example"))
    code, out, err = cli("fleet", "validate")
    # Only the prefix: the names it derives (KV titles, D1 name, ...) collide as a consequence.
    assert out == [
        f"stacks/customers/copy.yaml:2:14: name_prefix: name_prefix 'acme' is also used by customer-acme "
        f"({ACME}:3:14); each must be unique across the fleet"
    ]
    assert (code, err) == (1, ["edgestack fleet validate: 1 problem(s) in a fleet of 8 stack(s)"])


def test_namespace_id_hostname_and_route_collisions(stacks: Path, cli: CliRun) -> None:
    write(
        stacks / "customers" / "zeta.yaml",
        overlay(
            "zeta",
            namespace_id=2001,
            hostname="AI.acme.example",
            routes="  routes:\n    - pattern: api.example.com/v1/*\n      zone: z\n"
            "    - pattern: ai.acme.example/x/*\n      zone: z\n",
        ),
    )
    code, out, _ = cli("fleet", "validate")
    assert code == 1
    assert out == [
        "stacks/customers/zeta.yaml:8:17: worker.custom_domains[0].hostname: hostname 'ai.acme.example' is also "
        f"used by customer-acme ({ACME}:11:17); each must be unique across the fleet",
        "stacks/customers/zeta.yaml:13:16: worker.routes[1].pattern: route host 'ai.acme.example' is a custom "
        f"domain of customer-acme ({ACME}:11:17); each must be unique across the fleet",
        "stacks/customers/zeta.yaml:18:21: bindings.rate_limits.RATE_LIMITER.namespace_id: rate-limit namespace_id "
        f"'2001' is also used by customer-acme ({ACME}:17:21); each must be unique across the fleet",
        "stacks/prod.yaml:12:16: worker.routes[0].pattern: route pattern 'api.example.com/v1/*' is also used by "
        "customer-zeta (stacks/customers/zeta.yaml:11:16); each must be unique across the fleet",
    ]


def test_data_resource_and_gateway_names_derived_or_explicit(stacks: Path, cli: CliRun) -> None:
    # `acme-faq` + binding CACHE derives `acme-faq-cache`, which acme derives from FAQ_CACHE.
    write(
        stacks / "customers" / "acme-faq.yaml",
        overlay(
            "acme-faq",
            namespace_id=2998,
            extra="  d1:\n    DB:\n      name: acme-db\n  vectorize:\n    VECTORS:\n      name: globex-vectors\n"
            "ai_gateway:\n  id: x\n",
        ),
    )
    write(
        stacks / "customers" / "acme.yaml",
        (stacks / "customers" / "acme.yaml").read_text() + "ai_gateway:\n  id: faq-x\n",
    )
    code, out, _ = cli("fleet", "validate")
    assert code == 1
    # Both sides are named; the later stack (by name) is the one reported.
    assert out == [
        "stacks/customers/acme-faq.yaml:2:14: name_prefix: AI Gateway id 'acme-faq-x' (ai_gateway.id, derived "
        f"from name_prefix) is also used by customer-acme ({ACME}:3:14); each must be unique across the fleet",
        "stacks/customers/acme-faq.yaml:2:14: name_prefix: KV namespace title 'acme-faq-cache' (bindings.kv.CACHE, "
        f"derived from name_prefix) is also used by customer-acme ({ACME}:3:14); each must be unique across the fleet",
        "stacks/customers/acme-faq.yaml:16:13: bindings.d1.DB.name: D1 database name 'acme-db' is also used by "
        f"customer-acme ({ACME}:3:14); each must be unique across the fleet",
        "stacks/customers/globex.yaml:3:14: name_prefix: Vectorize index name 'globex-vectors' "
        "(bindings.vectorize.VECTORS, derived from name_prefix) is also used by customer-acme-faq "
        "(stacks/customers/acme-faq.yaml:19:13); each must be unique across the fleet",
    ]


def test_names_are_scoped_by_account_but_hostnames_are_not(stacks: Path, cli: CliRun) -> None:
    write(
        stacks / "customers" / "other.yaml",
        overlay("acme", namespace_id=2001, hostname="ai.acme.example") + f'account_id: "{"f" * 32}"\n',
    )
    code, out, _ = cli("fleet", "validate")
    assert code == 1
    assert len(out) == 1 and out[0].startswith(
        "stacks/customers/other.yaml:8:17: worker.custom_domains[0].hostname: hostname 'ai.acme.example'"
    )


def test_a_template_change_that_breaks_every_customer_names_them(stacks: Path, cli: CliRun) -> None:
    template = stacks / "customers" / "_template.yaml"
    template.write_text(template.read_text().replace("period: 60", "period: 30"))
    code, out, _ = cli("fleet", "validate")
    assert code == 1
    assert out == [
        "stacks/customers/_template.yaml:18:15: bindings.rate_limits.RATE_LIMITER.period: expected 10 or 60, "
        "got 30 (breaks 2 stack(s): customer-acme, customer-globex)"
    ]
    code, out, err = cli("fleet", "synth")
    assert (code, out[-1:]) == (1, [])
    assert err[-1] == "edgestack fleet synth: the fleet does not validate (1 problem(s)); nothing was run"
