"""Property tests of fleet isolation and sharding over generated customer sets (hypothesis).

Physical names are taken from the planner (what `pulumi up` would create), independently of the
claims the fleet check computes, so the property checks the check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from infra.errors import EdgestackError
from infra.fleet.isolation import fleet_diagnostics
from infra.fleet.matrix import shard
from infra.fleet.members import Member
from infra.plan.model import Plan
from infra.plan.planner import plan
from infra.spec import Stack
from infra.stackfile.load import check_stack
from infra.stackfile.source import SourceMap
from tests.pulumi_mocks import fake_bundle

BUNDLE = fake_bundle()
ACCOUNTS = ["0" * 32, "1" * 32]
# Small pools, so that generated sets often collide (derived and explicit names meet).
PREFIXES = st.sampled_from(["a", "b", "a-b", "ab", "b-c", "c"])
# Binding names per section (env names must differ across sections within a stack).
SECTIONS = {
    "kv": ["CACHE", "B_CACHE", "C"],
    "d1": ["DB", "B_DB"],
    "r2": ["DOCS", "C_DOCS"],
    "vectorize": ["VEC", "B_VEC"],
    "queues": ["JOBS", "C_JOBS"],
}
EXPLICIT = st.sampled_from([None, None, None, "a-cache", "b-c", "shared", "c-db"])


@st.composite
def customer(draw: Any) -> dict[str, Any]:
    bindings: dict[str, Any] = {}
    for section, pool in SECTIONS.items():
        entries: dict[str, Any] = {}
        for name in draw(st.lists(st.sampled_from(pool), max_size=2, unique=True)):
            explicit = draw(EXPLICIT)
            spec: dict[str, Any] = {"dimensions": 8} if section == "vectorize" else {}
            if explicit is not None:
                spec["title" if section == "kv" else "name"] = explicit
            entries[name] = spec
        bindings[section] = entries
    return {
        "account_id": draw(st.sampled_from(ACCOUNTS)),
        "name_prefix": draw(PREFIXES),
        "worker": {"name": "api", "compatibility_date": "2026-11-01"},
        "bindings": bindings,
    }


def physical_names(the_plan: Plan) -> Iterator[tuple[str, str]]:
    """(kind, Cloudflare-side name) of every data resource the plan creates."""
    storage = the_plan.storage
    yield from (("kv", p.title) for p in storage.kv)
    yield from (("d1", p.database_name) for p in storage.d1)
    yield from (("r2", p.bucket_name) for p in storage.r2)
    yield from (("vectorize", p.index_name) for p in storage.vectorize)
    yield from (("queues", p.queue_name) for p in storage.queues)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(customer(), min_size=2, max_size=5))
def test_a_fleet_that_validates_shares_no_data_resource_or_vectorize_index(
    docs: list[dict[str, Any]],
) -> None:
    members, owners = [], {}
    shared = False
    for i, doc in enumerate(docs):
        stack = Stack.model_validate(doc)
        try:
            the_plan = plan(check_stack(stack), BUNDLE, stack_name=f"customer-{i}")
        except EdgestackError:
            assume(False)  # a stack load_stack or the planner rejects on its own never reaches the fleet
            raise
        members.append(Member(f"customer-{i}", Path(f"c{i}.yaml"), stack, SourceMap(f"c{i}.yaml")))
        for kind, name in physical_names(the_plan):
            key = (stack.account_id, kind, name)
            shared = shared or (key in owners and owners[key] != i)
            owners.setdefault(key, i)
    problems = fleet_diagnostics(members)
    event(
        "fleet passes" if not problems else "fleet fails",
    )
    event("shares a data resource" if shared else "isolated")
    if not problems:
        assert not shared  # passing the fleet check means full isolation of data and indexes
    if shared:
        assert problems  # and every shared data resource is caught


@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(1, 40), min_size=1),
    st.integers(1, 12),
)
def test_shards_cover_every_customer_once_and_are_balanced(weights: dict[str, int], shards: int) -> None:
    result = shard(weights, shards)
    names = [n for s in result for n in s.customers]
    assert sorted(names) == sorted(weights)
    assert len(result) == min(shards, len(weights)) and all(s.customers for s in result)
    loads = [s.weight for s in result]
    assert sum(loads) == sum(weights.values())
    assert max(loads) - min(loads) <= max(weights.values())  # greedy, heaviest first
