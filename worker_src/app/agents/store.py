"""One agent's state in its Durable Object's SQLite: messages, outbox, approvals, schedules, meta.

The object's SQL is the source of truth. Every message is written together with its outbox row in
one transaction; `outbox.py` replicates the outbox to D1. All methods are synchronous (`sql.exec`
is), so nothing else runs on the object between the statements of one method.

Cloudflare limits (docs: https://developers.cloudflare.com/durable-objects/platform/limits/): a row
or value is at most 2 MB and a statement at most 100 KB with at most 100 bound parameters. Message
text is bounded before it gets here (`MAX_STORED_CHARS`), and every statement binds a few values.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, TypeVar

T = TypeVar("T")

# Far below the 2 MB row limit: a message's text plus its JSON copy in the outbox stay under 1 MB.
MAX_STORED_CHARS = 400_000
TRUNCATION_NOTE = "\n[truncated by edgestack: {dropped} of {total} characters removed before storing]"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS agent_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agent_messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL, content TEXT, tool_calls TEXT, tool_call_id TEXT, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agent_outbox (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agent_approvals (call_id TEXT PRIMARY KEY, position INTEGER NOT NULL,"
    " tool TEXT NOT NULL, arguments TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agent_schedules (id TEXT PRIMARY KEY, due_ms INTEGER NOT NULL,"
    " prompt TEXT NOT NULL, key_name TEXT, created_at TEXT NOT NULL)",
)


class IdentityMismatch(Exception):
    """A request reached an object that holds another (tenant, agent) - never expected."""


class ObjectStorage(Protocol):
    """A Durable Object's SQLite-backed `ctx.storage` (js_bindings.ObjectStorage; a fake in tests)."""

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]: ...
    def transaction(self, work: Callable[[], T]) -> T:
        """Run `work` (synchronous `sql` calls) atomically: `transactionSync`."""
        ...

    async def get_alarm(self) -> float | None: ...
    async def set_alarm(self, at_ms: float) -> None: ...
    async def delete_alarm(self) -> None: ...
    async def delete_all(self) -> None: ...


class Message(NamedTuple):
    seq: int
    id: str
    role: str
    content: str | None
    tool_calls: list[dict[str, Any]] | None
    tool_call_id: str | None
    created_at: str

    def public(self) -> dict[str, Any]:
        """The API's message shape."""
        out: dict[str, Any] = {"id": self.id, "role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        out["created_at"] = self.created_at
        return out

    def prompt(self) -> dict[str, Any]:
        """The message as the model sees it (OpenAI format)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        return out


class PendingApproval(NamedTuple):
    call_id: str
    tool: str
    arguments: str

    def public(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "tool": self.tool, "arguments": self.arguments}


class Schedule(NamedTuple):
    id: str
    due_ms: int
    prompt: str
    key_name: str | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "at": iso_ms(self.due_ms), "prompt": self.prompt}


def iso_ms(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bound_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying so in the text itself."""
    if len(text) <= limit:
        return text
    note = TRUNCATION_NOTE.format(dropped=len(text) - limit, total=len(text))
    return text[:limit] + note


def _message(row: dict[str, Any]) -> Message:
    calls = row.get("tool_calls")
    return Message(
        seq=int(row["seq"]),
        id=str(row["id"]),
        role=str(row["role"]),
        content=row.get("content"),
        tool_calls=json.loads(calls) if calls else None,
        tool_call_id=row.get("tool_call_id"),
        created_at=str(row["created_at"]),
    )


class AgentStore:
    """Typed access to one agent's tables. `clock` gives seconds since the epoch."""

    def __init__(self, storage: ObjectStorage, clock: Callable[[], float]) -> None:
        self.storage = storage
        self.clock = clock
        self.tenant = ""
        self.agent_id = ""
        self._ready = False

    def _create_tables(self) -> None:
        if not self._ready:
            for statement in SCHEMA:
                self.storage.sql(statement)
            self._ready = True

    def open(self, tenant: str, agent_id: str) -> None:
        """Create the tables if needed and check that this object belongs to (tenant, agent_id)."""
        self._create_tables()
        if self.tenant:
            if (self.tenant, self.agent_id) != (tenant, agent_id):
                raise IdentityMismatch(f"this object holds agent {self.agent_id!r} of another tenant")
            return
        stored = self.meta_json("identity")
        if stored is None:
            self.set_meta("identity", json.dumps([tenant, agent_id]))
        elif stored != [tenant, agent_id]:
            raise IdentityMismatch(f"this object holds agent {stored[1]!r} of another tenant")
        self.tenant, self.agent_id = tenant, agent_id

    def opened(self) -> bool:
        """Whether the object holds an agent (after `open`, or stored by an earlier instance).
        Creates nothing: asking about an agent that was never messaged leaves no tables behind."""
        if self.tenant:
            return True
        if not self._ready:
            if not self.storage.sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'agent_meta'"
            ):
                return False
            self._ready = True
        stored = self.meta_json("identity")
        if stored is None:
            return False
        self.tenant, self.agent_id = str(stored[0]), str(stored[1])
        return True

    def forget(self) -> None:
        """After `delete_all` the tables and the identity are gone; recreate them on next use."""
        self._ready = False
        self.tenant = self.agent_id = ""

    # ------------------------------------------------------------ meta

    def meta(self, key: str) -> str | None:
        rows = self.storage.sql("SELECT value FROM agent_meta WHERE key = ?", key)
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.storage.sql(
            "INSERT INTO agent_meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )

    def delete_meta(self, key: str) -> None:
        self.storage.sql("DELETE FROM agent_meta WHERE key = ?", key)

    def meta_json(self, key: str) -> Any:
        raw = self.meta(key)
        return json.loads(raw) if raw else None

    # ------------------------------------------------------------ messages

    def append(
        self,
        role: str,
        content: str | None,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
    ) -> Message:
        """Store one message and its outbox row in one transaction."""
        return self.storage.transaction(lambda: self._write_message(role, content, tool_calls, tool_call_id))

    def _write_message(
        self,
        role: str,
        content: str | None,
        tool_calls: list[dict[str, Any]] | None,
        tool_call_id: str | None,
    ) -> Message:
        """The statements of `append`; call inside a transaction (transactions do not nest)."""
        if content is not None:
            content = bound_text(content, MAX_STORED_CHARS)
        rows = self.storage.sql("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM agent_messages")
        message = Message(
            seq=int(rows[0]["next"]),
            id="msg_" + uuid.uuid4().hex,
            role=role,
            content=content,
            tool_calls=tool_calls or None,
            tool_call_id=tool_call_id,
            created_at=iso_ms(self.clock() * 1000),
        )
        calls_json = json.dumps(tool_calls, separators=(",", ":")) if tool_calls else None
        self.storage.sql(
            "INSERT INTO agent_messages (seq, id, role, content, tool_calls, tool_call_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            message.seq,
            message.id,
            role,
            content,
            calls_json,
            tool_call_id,
            message.created_at,
        )
        payload = {
            "tenant": self.tenant,
            "agent_id": self.agent_id,
            **message._asdict(),
            "tool_calls": calls_json,
        }
        self.storage.sql(
            "INSERT INTO agent_outbox (seq, payload) VALUES (?, ?)",
            message.seq,
            json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        )
        return message

    def message_count(self) -> int:
        return int(self.storage.sql("SELECT COUNT(*) AS n FROM agent_messages")[0]["n"])

    def recent(self, limit: int) -> list[Message]:
        rows = self.storage.sql("SELECT * FROM agent_messages ORDER BY seq DESC LIMIT ?", limit)
        return [_message(row) for row in reversed(rows)]

    def since(self, seq: int) -> list[Message]:
        rows = self.storage.sql("SELECT * FROM agent_messages WHERE seq > ? ORDER BY seq", seq)
        return [_message(row) for row in rows]

    def last_seq(self) -> int:
        return int(self.storage.sql("SELECT COALESCE(MAX(seq), 0) AS n FROM agent_messages")[0]["n"])

    # ------------------------------------------------------------ outbox

    def outbox(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self.storage.sql("SELECT seq, payload FROM agent_outbox ORDER BY seq LIMIT ?", limit)
        return [(int(row["seq"]), json.loads(row["payload"])) for row in rows]

    def outbox_size(self) -> int:
        return int(self.storage.sql("SELECT COUNT(*) AS n FROM agent_outbox")[0]["n"])

    def outbox_done(self, up_to_seq: int) -> None:
        self.storage.sql("DELETE FROM agent_outbox WHERE seq <= ?", up_to_seq)

    # ------------------------------------------------------------ approvals

    def pending(self) -> list[PendingApproval]:
        rows = self.storage.sql("SELECT call_id, tool, arguments FROM agent_approvals ORDER BY position")
        return [PendingApproval(str(r["call_id"]), str(r["tool"]), str(r["arguments"])) for r in rows]

    def add_pending(self, call_id: str, tool: str, arguments: str, position: int) -> None:
        self.storage.sql(
            "INSERT INTO agent_approvals (call_id, position, tool, arguments, created_at) VALUES (?, ?, ?, ?, ?)",
            call_id,
            position,
            tool,
            arguments,
            iso_ms(self.clock() * 1000),
        )

    def resolve_pending(self, call_id: str, content: str) -> Message:
        """Store the call's tool result and drop the pending approval, atomically."""

        def write() -> Message:
            message = self._write_message("tool", content, None, call_id)
            self.storage.sql("DELETE FROM agent_approvals WHERE call_id = ?", call_id)
            return message

        return self.storage.transaction(write)

    # ------------------------------------------------------------ schedules

    def schedules(self) -> list[Schedule]:
        rows = self.storage.sql(
            "SELECT id, due_ms, prompt, key_name FROM agent_schedules ORDER BY due_ms, id"
        )
        return [Schedule(str(r["id"]), int(r["due_ms"]), str(r["prompt"]), r.get("key_name")) for r in rows]

    def add_schedule(self, due_ms: int, prompt: str, key_name: str | None) -> Schedule:
        schedule = Schedule("sch_" + uuid.uuid4().hex[:16], int(due_ms), prompt, key_name)
        self.storage.sql(
            "INSERT INTO agent_schedules (id, due_ms, prompt, key_name, created_at) VALUES (?, ?, ?, ?, ?)",
            schedule.id,
            schedule.due_ms,
            prompt,
            key_name,
            iso_ms(self.clock() * 1000),
        )
        return schedule

    def claim_schedule(self, schedule: Schedule) -> Message | None:
        """Consume a due schedule and store its prompt as a user message, atomically.

        None when the schedule is already gone (an alarm delivered twice): it runs exactly once.
        """

        def write() -> Message | None:
            gone = not self.storage.sql("SELECT id FROM agent_schedules WHERE id = ?", schedule.id)
            if gone:
                return None
            self.storage.sql("DELETE FROM agent_schedules WHERE id = ?", schedule.id)
            return self._write_message("user", schedule.prompt, None, None)

        return self.storage.transaction(write)
