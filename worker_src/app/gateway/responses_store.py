"""Stored Responses API responses, in D1 table `gateway_responses` (migration 0007).

D1 rather than a Durable Object: a stored response is read by id from any location, written once
and never updated, so it needs no single-writer object; D1 is already the gateway's store of
record (usage, quotas). Rows are tenant-scoped (an id of another tenant reads as missing), carry
an expiry (`gateway.response_store.ttl_s`), and expired rows are deleted as new ones are written.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from ..bindings import D1Database
from ..web.errors import ApiError
from .translate import JsonObject, dumps

INSERT_SQL = (
    "INSERT INTO gateway_responses (id, tenant, created_at, expires_at, history, response) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
SELECT_SQL = "SELECT history, response FROM gateway_responses WHERE id = ? AND tenant = ? AND expires_at > ?"
DELETE_SQL = "DELETE FROM gateway_responses WHERE id = ? AND tenant = ? AND expires_at > ?"
EXISTS_SQL = "SELECT 1 AS found FROM gateway_responses WHERE id = ? AND tenant = ? AND expires_at > ?"
PURGE_SQL = (
    "DELETE FROM gateway_responses WHERE id IN "
    "(SELECT id FROM gateway_responses WHERE expires_at <= ? LIMIT 100)"
)


class StoredResponse(NamedTuple):
    history: list[JsonObject]  # input items of every turn up to this response (its output excluded)
    response: JsonObject

    @property
    def conversation(self) -> list[JsonObject]:
        """The items a follow-up (`previous_response_id`) continues from: history, then this output."""
        return self.history + [item for item in self.response.get("output") or [] if item]


def not_found(response_id: str) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"no response with id {response_id!r} (it may have expired, or belong to another key's scope)",
        param="previous_response_id",
        code="response_not_found",
    )


async def load(db: D1Database, tenant: str, response_id: str, now: int) -> StoredResponse:
    rows = await db.execute(SELECT_SQL, (response_id, tenant, now))
    if not rows:
        raise not_found(response_id)
    return StoredResponse(json.loads(rows[0]["history"]), json.loads(rows[0]["response"]))


async def save(db: D1Database, tenant: str, stored: StoredResponse, now: int, ttl_s: int) -> None:
    response = stored.response
    await db.batch(
        [
            (PURGE_SQL, (now,)),
            (
                INSERT_SQL,
                (
                    response["id"],
                    tenant,
                    int(response.get("created_at") or now),
                    now + ttl_s,
                    dumps(stored.history),
                    dumps(response),
                ),
            ),
        ]
    )


async def delete(db: D1Database, tenant: str, response_id: str, now: int) -> bool:
    found = await db.execute(EXISTS_SQL, (response_id, tenant, now))
    if not found:
        return False
    await db.execute(DELETE_SQL, (response_id, tenant, now))
    return True
