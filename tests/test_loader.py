"""The loader: shipped stacks, stack names, source positions, relative paths, YAML behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.spec.resources import route_domain, route_host
from infra.stackfile.diagnostics import StackError
from infra.stackfile.load import load_layers, load_stack, load_stack_with_sources, merge_stack_files
from infra.stackfile.names import StackNotFoundError, list_stack_files, resolve_stack_path, stack_name
from infra.stackfile.source import Position, format_key_path, parse_yaml
from tests.conftest import FIXTURE_WORKER_SRC, MALFORMED_DIR, STACKS_DIR

SHIPPED = ["base", "customer-acme", "customer-globex", "dev", "local", "prod", "staging"]
VALID_BASE = MALFORMED_DIR / "_parts" / "valid_base.yaml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- shipped stacks -------------------------------------------------------------------------------


def test_list_stack_files_skips_templates() -> None:
    files = list_stack_files(STACKS_DIR)
    assert [stack_name(f) for f in files] == SHIPPED
    assert all(not f.name.startswith("_") for f in files)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_stack_loads_clean(name: str) -> None:
    stack = load_stack(resolve_stack_path(name))
    assert stack.bindings.durable_objects.get("AGENT", None) is None or stack.durable_object_migrations
    db = stack.bindings.d1["DB"]
    assert db.migrations == str(STACKS_DIR / "migrations" / "db")  # absolute, from stacks/base.yaml
    assert stack.rag is not None and stack.bindings.vectorize[stack.rag.index_binding].dimensions in (
        384,
        768,
    )


def test_shipped_stack_environments_and_protection() -> None:
    stacks = {name: load_stack(resolve_stack_path(name)) for name in SHIPPED}
    assert {n: s.environment for n, s in stacks.items()} == {
        "base": "dev",
        "customer-acme": "prod",
        "customer-globex": "prod",
        "dev": "dev",
        "local": "local",
        "prod": "prod",
        "staging": "staging",
    }
    assert [n for n, s in stacks.items() if s.protect_data] == ["customer-acme", "customer-globex", "prod"]
    assert stacks["local"].account_id == "0" * 32
    # Routes and zones only where a real hostname exists.
    assert [n for n, s in stacks.items() if s.worker.routes] == ["customer-globex", "prod", "staging"]
    assert not stacks["dev"].zones and not stacks["local"].zones
    # Each stack in the shared account gets its own rate-limit namespace.
    namespaces = [
        s.bindings.rate_limits["RATE_LIMITER"].namespace_id for n, s in stacks.items() if n != "local"
    ]
    assert len(set(namespaces)) == len(namespaces)


def test_customer_overlays_override_the_template() -> None:
    acme = load_stack(resolve_stack_path("customer-acme"))
    globex = load_stack(resolve_stack_path("customer-globex"))
    assert (acme.script_name, globex.script_name) == ("acme-api", "globex-api")
    assert acme.worker.placement == "smart" and acme.worker.workers_dev is False  # from the template
    assert acme.bindings.rate_limits["RATE_LIMITER"].limit == 300  # template value, acme's namespace
    assert globex.bindings.vectorize["VECTORS"].dimensions == 768
    assert globex.bindings.vectorize["VECTORS"].metadata_indexes == {"tenant": "string"}  # deep merge kept it
    assert globex.agents is None and "AGENT" not in globex.bindings.durable_objects  # null deleted them
    assert globex.gateway is not None and set(globex.gateway.providers) == {"anthropic", "workers-ai"}
    assert globex.gateway.routes["chat-fast"].cache.enabled  # kept from base; candidates replaced
    assert [c.provider for c in globex.gateway.routes["chat-fast"].candidates] == ["anthropic", "workers-ai"]


# --- names and paths ------------------------------------------------------------------------------


def test_resolve_stack_path_names_and_paths(at_repo_root: Path) -> None:
    assert resolve_stack_path("prod") == STACKS_DIR / "prod.yaml"
    assert resolve_stack_path("customer-acme") == STACKS_DIR / "customers" / "acme.yaml"
    assert resolve_stack_path("stacks/dev.yaml") == Path("stacks/dev.yaml")


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("production", ""),  # not close enough
        ("prd", " (did you mean 'prod'?)"),
        ("customer-initech", " (did you mean 'customer-acme'?)"),
        ("customer-_template", " (did you mean 'customer-acme'?)"),
        ("_template", ""),
        ("", ""),
    ],
)
def test_resolve_unknown_stack_suggests_and_lists_the_deployable_ones(name: str, hint: str) -> None:
    with pytest.raises(StackNotFoundError) as caught:
        resolve_stack_path(name)
    assert str(caught.value) == (  # base.yaml is extended by others: not listed
        f"unknown stack {name!r}{hint} (available: customer-acme, customer-globex, dev, local, prod, staging)"
    )


def test_resolve_missing_path(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="no such stack file"):
        resolve_stack_path(str(tmp_path / "nope.yaml"))


def test_stack_name_outside_root(tmp_path: Path) -> None:
    assert stack_name(tmp_path / "x.yaml") == "x"
    assert stack_name(STACKS_DIR / "customers" / "acme.yaml") == "customer-acme"


# --- source positions -----------------------------------------------------------------------------


def test_sources_point_at_the_file_that_wrote_each_value(at_repo_root: Path) -> None:
    _, sources = load_stack_with_sources("stacks/prod.yaml")
    assert sources[("environment",)] == Position("stacks/prod.yaml", 4, 1)  # overlay wins
    assert sources[("bindings", "kv", "CACHE")].file == "stacks/base.yaml"  # only the base wrote it
    assert sources[("worker",)].file == "stacks/prod.yaml"  # both wrote it: the overlay's key
    assert sources.nearest(("worker", "routes", 0, "NOT_THERE")) == sources[("worker", "routes", 0)]
    assert sources.nearest(("nothing", "here")) == Position("stacks/prod.yaml", 1, 1)
    assert ("extends",) not in sources


def test_value_positions_and_list_items() -> None:
    doc = parse_yaml("a:\n  b: 12\nl:\n  - x\n  -   y\n", "f.yaml")
    assert doc.sources[("a", "b")] == Position("f.yaml", 2, 3)
    assert doc.sources.value_position(("a", "b")) == Position("f.yaml", 2, 6)
    assert doc.sources[("l", 1)] == Position("f.yaml", 5, 7)


def test_format_key_path() -> None:
    assert format_key_path(("worker", "routes", 0, "zone")) == "worker.routes[0].zone"
    assert format_key_path(("l", 0, 1)) == "l[0][1]"
    assert format_key_path(()) == ""


def test_replaced_subtrees_drop_stale_positions(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "x:\n  a: 1\n  b: 2\nl: [{p: 1}, {q: 2}]\n")
    write(tmp_path / "top.yaml", "extends: base.yaml\nx: 5\nl: [{r: 3}]\n")
    doc, sources = merge_stack_files(tmp_path / "top.yaml")
    assert doc == {"x": 5, "l": [{"r": 3}]}
    assert set(sources) == {("x",), ("l",), ("l", 0), ("l", 0, "r")}
    assert {p.file for p in sources.values()} == {str(tmp_path / "top.yaml")}


# --- extends --------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_declaring_file(tmp_path: Path) -> None:
    base = VALID_BASE.read_text().replace("migrations: migrations", "migrations: ../shared/db")
    write(tmp_path / "root" / "base.yaml", base)
    (tmp_path / "shared" / "db").mkdir(parents=True)
    write(tmp_path / "shared" / "db" / "0001.sql", "CREATE TABLE t (id INTEGER);\n")
    write(tmp_path / "root" / "customers" / "c.yaml", "extends: ../base.yaml\nname_prefix: c\n")
    stack = load_stack(tmp_path / "root" / "customers" / "c.yaml", worker_src=FIXTURE_WORKER_SRC)
    assert stack.bindings.d1["DB"].migrations == str(tmp_path / "shared" / "db")
    # An overlay that sets the folder itself resolves it against the overlay's own directory.
    (tmp_path / "root" / "customers" / "cdb").mkdir()
    write(tmp_path / "root" / "customers" / "cdb" / "0001.sql", "CREATE TABLE u (id INTEGER);\n")
    write(
        tmp_path / "root" / "customers" / "d.yaml",
        "extends: ../base.yaml\nbindings:\n  d1:\n    DB:\n      migrations: cdb\n",
    )
    stack = load_stack(tmp_path / "root" / "customers" / "d.yaml", worker_src=FIXTURE_WORKER_SRC)
    assert stack.bindings.d1["DB"].migrations == str(tmp_path / "root" / "customers" / "cdb")


def test_diamond_applies_a_shared_base_once(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "v: {a: base, b: base}\n")
    write(tmp_path / "left.yaml", "extends: base.yaml\nv: {a: left}\n")
    write(tmp_path / "right.yaml", "extends: base.yaml\nv: {b: right}\n")
    write(tmp_path / "top.yaml", "extends: [left.yaml, right.yaml]\n")
    assert [layer.path.name for layer in load_layers(tmp_path / "top.yaml")] == [
        "base.yaml",
        "left.yaml",
        "right.yaml",
        "top.yaml",
    ]
    assert merge_stack_files(tmp_path / "top.yaml")[0] == {"v": {"a": "left", "b": "right"}}


def test_self_extension_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "me.yaml", "# c\nextends: [me.yaml]\n")
    with pytest.raises(StackError) as caught:
        merge_stack_files(tmp_path / "me.yaml")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.key_path) == (2, 11, "extends[0]")
    assert diagnostic.message.startswith("extends cycle: ")


def test_extending_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").mkdir()
    write(tmp_path / "top.yaml", "extends: d.yaml\n")
    with pytest.raises(StackError, match=r"extends file .*d\.yaml is a directory"):
        merge_stack_files(tmp_path / "top.yaml")


def test_every_problem_in_a_chain_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "x: [\n")
    write(tmp_path / "top.yaml", "extends: [a.yaml, missing.yaml]\n")
    with pytest.raises(StackError) as caught:
        merge_stack_files(tmp_path / "top.yaml")
    messages = [d.message for d in caught.value.diagnostics]
    assert len(messages) == 2
    assert messages[0].startswith("invalid YAML")
    assert messages[1].endswith("missing.yaml does not exist")


def test_edited_file_is_reparsed_even_with_the_same_size(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "a: 1\n")
    assert merge_stack_files(path)[0] == {"a": 1}
    path.write_text("a: 2\n")  # same size, possibly the same mtime
    assert merge_stack_files(path)[0] == {"a": 2}


def test_missing_root_file(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="no such file"):
        load_stack(tmp_path / "absent.yaml")


def test_directory_as_stack_file(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="is a directory"):
        load_stack(tmp_path)


# --- YAML behaviour -------------------------------------------------------------------------------


def test_only_true_and_false_are_booleans() -> None:
    doc = parse_yaml("on: yes\noff: no\nt: true\nf: False\ny: Y\n", "f.yaml")
    assert doc.data == {"on": "yes", "off": "no", "t": True, "f": False, "y": "Y"}


def test_yaml_1_2_numbers_and_dates_stay_unsurprising() -> None:
    doc = parse_yaml("d: 2026-11-01\no: 010\ns: 1:30\nh: 0x1F\nf: 1.5e3\nv: 1.10\n", "f.yaml")
    assert doc.data == {"d": "2026-11-01", "o": 10, "s": "1:30", "h": 31, "f": 1500.0, "v": 1.1}


def test_keys_are_the_text_as_written() -> None:
    assert parse_yaml("1: a\nnull: b\ntrue: c\n", "f.yaml").data == {"1": "a", "null": "b", "true": "c"}


def test_anchors_aliases_and_merge_keys() -> None:
    text = "defaults: &d {limit: 10, period: 60}\nA:\n  <<: *d\n  limit: 5\nB: *d\n"
    doc = parse_yaml(text, "f.yaml")
    assert doc.data["A"] == {"limit": 5, "period": 60}
    assert doc.data["B"] == {"limit": 10, "period": 60}
    assert doc.sources[("A", "limit")] == Position("f.yaml", 4, 3)


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 12)
    ]
    with pytest.raises(StackError, match="document too large"):
        parse_yaml("\n".join(lines) + "\n", "bomb.yaml")


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert merge_stack_files(path)[0] == {"a": 1}


def test_diagnostics_never_echo_secret_values(tmp_path: Path) -> None:
    text = VALID_BASE.read_text().replace(
        "secrets: [OPENAI_API_KEY]", "secrets: {OPENAI_API_KEY: sk-live-123}"
    )
    path = write(tmp_path / "s.yaml", text)
    with pytest.raises(StackError) as caught:
        load_stack(path, worker_src=FIXTURE_WORKER_SRC)
    assert "sk-live-123" not in str(caught.value)
    assert [d.key_path for d in caught.value.diagnostics] == ["worker.secrets"]


@pytest.mark.parametrize(
    ("pattern", "host", "domain"),
    [
        ("api.example.com/v1/*", "api.example.com", "api.example.com"),
        ("*.API.Example.com/*", "*.api.example.com", "api.example.com"),
        ("*example.com/*", "*example.com", "example.com"),
        ("example.com", "example.com", "example.com"),
    ],
)
def test_route_host_and_domain(pattern: str, host: str, domain: str) -> None:
    """One reading of a route pattern's host serves fleet isolation, policy and the agents' own hosts."""
    assert route_host(pattern) == host
    assert route_domain(pattern) == domain
