"""`edgestack diff`: normalized synth graphs compared on known pairs."""

from __future__ import annotations

import json

import pytest

from infra.cli import main
from infra.deploy.synth import SECRET, synth_stack
from infra.release.diff import Change, DiffInputError, diff_graphs, load_synth_json, render_table
from tests.pulumi_mocks import synth


@pytest.fixture(scope="module")
def base():
    return synth()


def test_same_stack_under_another_prefix_and_name_has_no_differences(base):
    other = synth({"name_prefix": "store"})
    assert other.resources[0].name.startswith("store-")
    assert diff_graphs(base, other).empty


def test_changed_var_shows_on_both_uploads_with_normalized_names(base):
    diff = diff_graphs(base, synth({"worker": {"vars": {"LOG_LEVEL": "debug"}}}))
    assert diff.added == () and diff.removed == ()
    assert diff.changed == (
        Change("{prefix}-do-migration-v1", "bindings[LOG_LEVEL].text", "info", "debug"),
        Change("{prefix}-version", "bindings[LOG_LEVEL].text", "info", "debug"),
    )


def test_added_and_removed_resources_and_protect_changes(base):
    right = synth({"bindings": {"kv": {"EXTRA": {}, "SCRATCH": None}, "r2": {"DOCS": {"protect": False}}}})
    diff = diff_graphs(base, right)
    assert diff.added == (("{prefix}-kv-extra", "cloudflare:index/workersKvNamespace:WorkersKvNamespace"),)
    assert diff.removed == (("{prefix}-kv-scratch", "cloudflare:index/workersKvNamespace:WorkersKvNamespace"),)
    changes = {(c.resource, c.path): (c.before, c.after) for c in diff.changed}
    assert changes[("{prefix}-r2-docs", "protect")] == (True, False)
    # the new binding references the new namespace by its normalized id, not a mock hash
    assert changes[("{prefix}-version", "bindings[EXTRA].namespaceId")] == (None, "{id:{prefix}-kv-extra}")
    assert changes[("{prefix}-version", "bindings[SCRATCH].namespaceId")] == ("{id:{prefix}-kv-scratch}", None)


def test_runtime_config_is_compared_field_by_field(base):
    diff = diff_graphs(base, synth({"rag": {"top_k": 9}}))
    assert Change("{prefix}-version", "bindings[EDGESTACK_CONFIG].text.rag.top_k", 5, 9) in diff.changed


def test_code_changes_show_as_module_digests(base):
    from tests.pulumi_mocks import fake_bundle

    diff = diff_graphs(base, synth(bundle=fake_bundle(app=b"VALUE = 2\n")))
    paths = {(c.resource, c.path) for c in diff.changed}
    assert ("{prefix}-version", "modules[app/core.py].sha256") in paths
    assert ("{prefix}-version", "bindings[EDGESTACK_BUNDLE_VERSION].text") in paths
    assert not any("contentBase64" in path for _, path in paths)


def test_secrets_stay_masked(base):
    right = synth({"worker": {"secrets": ["OPENAI_API_KEY", "NEW_SECRET"], "vars": {"SERVICE_TOKEN": "abc123"}}})
    diff = diff_graphs(base, right)
    changes = {(c.resource, c.path): c.after for c in diff.changed}
    assert changes[("{prefix}-version", "bindings[NEW_SECRET].text")] == SECRET
    assert changes[("{prefix}-version", "bindings[SERVICE_TOKEN].text")] == SECRET
    assert "abc123" not in json.dumps(diff.to_json()) and "abc123" not in render_table(diff)


def test_staging_to_prod_on_the_shipped_stacks():
    diff = diff_graphs(synth_stack("staging"), synth_stack("prod"))
    added = {name for name, _ in diff.added}
    assert added == {"{prefix}-domain-ai-example-com-fb1807", "{prefix}-route-api-example-com-v1-07656b"}
    changes = {(c.resource, c.path): (c.before, c.after) for c in diff.changed}
    assert changes[("{prefix}-kv-cache", "protect")] == (False, True)
    assert changes[("{prefix}-workers-dev", "enabled")] == (True, False)
    assert changes[("{prefix}-worker", "observability.headSamplingRate")] == (0.5, 0.1)


def test_against_a_saved_graph(tmp_path, capsys):
    saved = tmp_path / "prod.json"
    assert main(["synth", "prod"]) == 0
    saved.write_text(capsys.readouterr().out)
    assert main(["diff", "prod", "--against", str(saved), "--exit-code"]) == 0
    assert capsys.readouterr().out.startswith("diff prod -> prod: 0 added, 0 removed, 0 changed")
    assert main(["diff", "staging", "--against", str(saved), "--exit-code", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["left"] == "prod" and data["right"] == "staging"
    assert {"name": "{prefix}-route-api-example-com-v1-07656b", "type": "cloudflare:index/workersRoute:WorkersRoute"} in data["removed"]


def test_exit_code_only_when_asked(capsys):
    assert main(["diff", "staging", "prod"]) == 0
    assert main(["diff", "staging", "prod", "--exit-code"]) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{oops", "x.json:1:2: not JSON"),
        ("[]", "x.json: not a synth graph"),
        ('{"resources": [{"type": 1}]}', "x.json: resources[0]: needs string type and name and an inputs object"),
    ],
)
def test_bad_saved_graph_is_one_line(tmp_path, text, expected):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(DiffInputError) as exc:
        load_synth_json(path)
    assert str(exc.value).startswith(f"{tmp_path}/{expected}") and "\n" not in str(exc.value)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["diff", "staging", "nope"], "unknown stack 'nope'"),
        (["diff", "prod", "--against", "/no/such.json"], "edgestack diff: /no/such.json: no such file"),
        (["diff", "prod"], "edgestack diff: expected STACK_A STACK_B, got 1 stack(s)"),
    ],
)
def test_diff_command_bad_input(capsys, argv, expected):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err
