"""`/v1/usage` breakdowns: one scan gives each grouping the same sums as its own `group_by` query."""

from __future__ import annotations

from app.gateway.usage import UsageQuery, UsageRecord, aggregate, breakdowns, insert_statement
from gateway_testing import run
from harness.bindings import SqliteD1

GROUPS = ["alias", "provider", "model", "key", "tenant"]


def test_breakdowns_match_one_query_per_grouping() -> None:
    db = SqliteD1()
    for i in range(60):
        record = UsageRecord(
            request_id=f"r{i}",
            ts_ms=1_000 + i,
            api="openai",
            status=502 if i % 7 == 0 else 200,
            key_id=(None, "alice", "bob", "gina")[i % 4],
            alias=("fast", "smart")[i % 2],
            provider=("oa", "an", None)[i % 3],
            model=("m1", "m2", None)[i % 3],
            input_tokens=i,
            output_tokens=2 * i,
            cost_usd=0.001 * i,
            latency_ms=i,
            cache_status="HIT" if i % 5 == 0 else "MISS",
        )
        run(db.batch([insert_statement(record)]))
    query = UsageQuery(
        0, 10_000, "model", "all", tenant_of=(("alice", "acme"), ("bob", "acme"), ("gina", "globex"))
    )
    together = run(breakdowns(db, query, GROUPS))  # type: ignore[arg-type]
    for group in GROUPS:
        alone = run(aggregate(db, query._replace(group_by=group)))  # type: ignore[arg-type]
        without_latency = [{k: v for k, v in row.items() if not k.startswith("latency")} for row in alone]
        assert [
            {k: v for k, v in row.items() if not k.startswith("latency")} for row in together[group]
        ] == without_latency
    assert {row["tenant"]: row["requests"] for row in together["tenant"]} == {
        "acme": 30,
        None: 15,
        "globex": 15,
    }
