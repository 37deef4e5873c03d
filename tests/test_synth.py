"""The offline synth engine (recording mock monitor) and `edgestack synth`."""

from __future__ import annotations

import json

import pulumi
import pytest
from google.protobuf import struct_pb2

from infra.cli import main
from infra.deploy.synth import SECRET, SECRET_PLACEHOLDER, run_program, wire_value


class Thing(pulumi.CustomResource):
    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Thing", name, {**props, "out": None}, opts)


class Group(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Group", name, None, opts)
        self.member = Thing(f"{name}-member", {"size": 3}, pulumi.ResourceOptions(parent=self, protect=True))
        self.register_outputs({})


def toy_program() -> None:
    group = Group("group")
    secret = pulumi.Output.secret("s3cr3t")
    first = Thing("first", {"ratio": 0.5, "count": 2, "flag": True, "tags": ["a", secret]})
    Thing(
        "second",
        {"ref": first.id, "nested": {"list": [1, 2.25], "secret": secret}},
        pulumi.ResourceOptions(depends_on=[group]),
    )
    pulumi.export("plain", first.id)
    pulumi.export("hidden", secret)
    pulumi.export("structured", {"n": 1, "s": secret})


@pytest.fixture(scope="module")
def toy():
    return run_program("toy", toy_program)


def test_records_protect_parent_and_dependencies(toy):
    member = toy.resource("group-member")
    assert (member.type, member.protect, member.parent) == ("test:index:Thing", True, "group")
    assert toy.resource("group").parent is None
    second = toy.resource("second")
    # explicit depends_on on a component expands to its children; `ref` adds an implicit dependency
    assert second.depends_on == ("first", "group-member")
    assert toy.resource("first").depends_on == ()
    assert [r.name for r in toy.resources] == sorted(r.name for r in toy.resources)


def test_inputs_are_wire_values_with_secrets_masked_in_place(toy):
    first = toy.resource("first")
    assert first.inputs == {"count": 2, "flag": True, "ratio": 0.5, "tags": ["a", SECRET]}
    second = toy.resource("second")
    assert second.inputs["nested"] == {"list": [1, 2.25], "secret": SECRET}
    assert second.inputs["ref"] == toy.outputs["plain"]


def test_stack_outputs_mask_secrets(toy):
    assert toy.outputs["hidden"] == SECRET
    assert toy.outputs["structured"] == {"n": 1, "s": SECRET}
    assert isinstance(toy.outputs["plain"], str) and len(toy.outputs["plain"]) == 32


def test_runs_do_not_leak_into_each_other(toy):
    def other() -> None:
        Thing("only", {})

    result = run_program("other", other)
    assert [r.name for r in result.resources] == ["only"]
    assert result.outputs == {}
    again = run_program("toy", toy_program)
    assert again.to_json() == toy.to_json()


def test_config_and_secret_config_reach_the_program():
    seen = {}

    def program() -> None:
        config = pulumi.Config("edgestack")
        seen["plain"] = config.get("plain")
        Thing("t", {"value": config.require_secret("token")})

    result = run_program(
        "cfg",
        program,
        config={"edgestack:plain": "p", "edgestack:token": "x"},
        secret_keys=["edgestack:token"],
    )
    assert seen["plain"] == "p"
    assert result.resource("t").inputs == {"value": SECRET}


def test_numbers_keep_fractions_and_integral_values_become_ints():
    assert wire_value(struct_pb2.Value(number_value=3.0), {}) == 3
    assert wire_value(struct_pb2.Value(number_value=0.1), {}) == 0.1


# --- the CLI -------------------------------------------------------------------------------


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["synth", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_json_shape_for_a_real_stack(capsys):
    code, out, err = run_cli(capsys, "prod", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"stack", "resources", "outputs"}
    assert document["stack"] == "prod"
    for resource in document["resources"]:
        assert set(resource) == {"type", "name", "inputs", "protect", "parent", "depends_on"}
        assert resource["type"].startswith(("cloudflare:index/", "edgestack:index:", "pulumi-python:dynamic/"))
        assert isinstance(resource["protect"], bool) and isinstance(resource["depends_on"], list)
    names = {r["name"] for r in document["resources"]}
    assert all(r["parent"] is None or r["parent"] in names for r in document["resources"])
    assert SECRET_PLACEHOLDER not in out
    assert '"[secret]"' in out
    assert {"bundleSha256", "migrationTag", "resourceIds", "urls"} <= set(document["outputs"])


def test_cli_output_is_deterministic(capsys):
    first = run_cli(capsys, "customer-acme")
    second = run_cli(capsys, "customer-acme")
    assert first == second and first[0] == 0


def test_cli_table(capsys):
    code, out, _ = run_cli(capsys, "prod", "--format", "table")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("stack prod: ")
    assert any(line.split()[:1] == ["NAME"] for line in lines)
    assert "outputs:" in lines


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("no-such-stack",), "unknown stack 'no-such-stack'"),
        (
            ("prod", "--deployed-migration-tag", "v99"),
            "edgestack synth: durable_object_migrations: the deployed",
        ),
    ],
)
def test_cli_errors_are_one_line_without_traceback(capsys, argv, expected):
    code, out, err = run_cli(capsys, *argv)
    assert code == 1
    assert out == ""
    assert err.strip().startswith(expected) or expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_cli_reports_stack_file_positions(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("account_id: nope\nname_prefix: x\n")
    code, out, err = run_cli(capsys, str(bad))
    assert code == 1 and out == ""
    assert f"{bad.name}:1:" in err and "account_id" in err
    assert "Traceback" not in err


def test_synth_works_after_the_thread_event_loop_was_closed(toy):
    """`asyncio.run` (e.g. in another test) leaves the main thread without a current loop."""
    import asyncio

    async def nothing() -> None:
        return None

    asyncio.run(nothing())
    assert run_program("toy", toy_program).to_json() == toy.to_json()
