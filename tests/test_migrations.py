"""Durable Object migrations: wrangler's tag semantics and history validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.plan.do_migrations import (
    MigrationError,
    MigrationStep,
    RenamedClass,
    live_classes,
    pending_steps,
)
from infra.spec import DurableObjectMigration


def migration(tag: str, new=(), renamed=(), deleted=()) -> DurableObjectMigration:
    return DurableObjectMigration.model_validate(
        {
            "tag": tag,
            "new_sqlite_classes": list(new),
            "renamed_classes": [{"from": a, "to": b} for a, b in renamed],
            "deleted_classes": list(deleted),
        }
    )


ADD = [migration("v1", new=["AgentState"])]
RENAME = [*ADD, migration("v2", renamed=[("AgentState", "Agent")])]
DELETE = [*RENAME, migration("v3", new=["Scratch"]), migration("v4", deleted=["Scratch"])]


def test_add_flow_first_deploy_sends_every_step_without_old_tag():
    plan = pending_steps(ADD, None)
    assert plan.old_tag is None
    assert plan.new_tag == "v1"
    assert plan.steps == (MigrationStep(tag="v1", new_sqlite_classes=("AgentState",)),)
    assert plan.pending


def test_add_flow_is_a_no_op_once_deployed():
    plan = pending_steps(ADD, "v1")
    assert (plan.old_tag, plan.new_tag, plan.steps, plan.pending) == ("v1", "v1", (), False)


def test_rename_flow_sends_only_the_steps_after_the_deployed_tag():
    plan = pending_steps(RENAME, "v1")
    assert plan.old_tag == "v1"
    assert plan.new_tag == "v2"
    assert plan.steps == (MigrationStep(tag="v2", renamed_classes=(RenamedClass("AgentState", "Agent"),)),)
    assert live_classes(RENAME) == {"Agent"}


def test_delete_flow_from_an_older_tag_sends_both_remaining_steps_in_order():
    plan = pending_steps(DELETE, "v2")
    assert plan.old_tag == "v2"
    assert plan.new_tag == "v4"
    assert [s.tag for s in plan.steps] == ["v3", "v4"]
    assert plan.steps[1].deleted_classes == ("Scratch",)
    assert live_classes(DELETE) == {"Agent"}


def test_unknown_deployed_tag_is_a_one_line_error_listing_known_tags():
    with pytest.raises(MigrationError) as caught:
        pending_steps(RENAME, "v7")
    message = str(caught.value)
    assert "\n" not in message
    assert "'v7'" in message and "v1, v2" in message and "append-only" in message


def test_deployed_tag_with_no_migrations_declared_is_an_error():
    with pytest.raises(MigrationError, match="tags: none"):
        pending_steps([], "v1")


def test_no_migrations_and_no_deployed_tag_sends_nothing():
    plan = pending_steps([], None)
    assert (plan.old_tag, plan.new_tag, plan.steps) == (None, None, ())


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (
            [migration("v1", new=["A"]), migration("v1", new=["B"])],
            r"durable_object_migrations\[1\]\.tag: .*'v1'",
        ),
        (
            [migration("v1", new=["A"]), migration("v2", new=["A"])],
            r"\[1\]\.new_sqlite_classes\[0\]: class 'A' already",
        ),
        (
            [migration("v1", renamed=[("A", "B")])],
            r"\[0\]\.renamed_classes\[0\]\.from: class 'A' does not exist",
        ),
        (
            [migration("v1", new=["A", "B"]), migration("v2", renamed=[("A", "B")])],
            r"\[1\]\.renamed_classes\[0\]\.to: class 'B' already exists",
        ),
        ([migration("v1", deleted=["A"])], r"\[0\]\.deleted_classes\[0\]: class 'A' does not exist"),
        (
            [migration("v1", new=["A"], deleted=["A"])],
            r"deleted_classes\[0\]: class 'A' also appears in new_sqlite",
        ),
        (
            [migration("v1", new=["A"]), migration("v2", deleted=["A"]), migration("v3", deleted=["A"])],
            r"\[2\]",
        ),
    ],
)
def test_invalid_histories_name_the_field(history, expected):
    with pytest.raises(MigrationError, match=expected):
        pending_steps(history, None)


def test_a_deleted_class_can_be_created_again_later():
    history = [migration("v1", new=["A"]), migration("v2", deleted=["A"]), migration("v3", new=["A"])]
    assert live_classes(history) == {"A"}


# --- properties ---------------------------------------------------------------------------


@st.composite
def histories(draw) -> list[DurableObjectMigration]:
    """Valid histories built by applying random operations to the live set."""
    live: list[str] = []
    counter = 0
    steps = []
    for index in range(draw(st.integers(min_value=0, max_value=8))):
        operation = draw(st.sampled_from(["new", "rename", "delete"] if live else ["new"]))
        if operation == "new":
            counter += 1
            name = f"C{counter}"
            live.append(name)
            steps.append(migration(f"t{index}", new=[name]))
        elif operation == "rename":
            counter += 1
            old = draw(st.sampled_from(live))
            live[live.index(old)] = f"C{counter}"
            steps.append(migration(f"t{index}", renamed=[(old, f"C{counter}")]))
        else:
            old = draw(st.sampled_from(live))
            live.remove(old)
            steps.append(migration(f"t{index}", deleted=[old]))
    return steps


@given(histories(), st.data())
def test_pending_steps_are_exactly_the_suffix_after_the_deployed_tag(history, data):
    tags = [m.tag for m in history]
    deployed = data.draw(st.sampled_from([None, *tags]))
    plan = pending_steps(history, deployed)
    start = 0 if deployed is None else tags.index(deployed) + 1
    assert [s.tag for s in plan.steps] == tags[start:]
    assert plan.old_tag == deployed
    assert plan.new_tag == (tags[-1] if tags else None)
    # Deploying the pending steps on top of what is deployed reaches the same classes as the full history.
    applied = history[:start]
    assert live_classes([*map(MigrationStep.from_spec, applied), *plan.steps]) == live_classes(history)
