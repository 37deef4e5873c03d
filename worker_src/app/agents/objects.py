"""The agent's Durable Object side: requests from the Worker, and the object's alarm.

One `AgentObject` per object instance (entry.AgentState creates it). Turns never interleave: each
takes the object's turn lock (FIFO: asyncio.Lock wakes waiters in arrival order) and keeps it until
its outcome is stored, also for streamed turns, whose loop runs as a task independent of the client.

The alarm is shared by schedules and outbox retries (`rearm` keeps it at the earliest of the two).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..bindings import Fetcher
from ..config import ConfigError
from ..gateway.internal import InternalChatRequest, StreamItem, chat, key_principal, stream_chat
from ..http import HttpRequest, HttpResponse
from ..services import Services
from ..web.errors import ApiError, bad_request
from ..web.log import log_event
from ..web.sse import SSE_HEADERS, dumps, encode_event
from .config import AgentsConfig, agents_config, serving_agents_config
from .loop import (
    ModelCall,
    PausedTurn,
    StepDelta,
    ToolCallEvent,
    ToolResultEvent,
    Turn,
    TurnEvent,
    TurnOutcome,
    collect,
    paused_turn,
)
from .outbox import flush_outbox, outbox_state
from .protocol import AgentCall
from .runner import ToolContext, expand_mcp_tools, resolve_rag_search
from .store import AgentStore, Message, ObjectStorage, Schedule
from .tools import ToolRegistry

PAUSED_SCHEDULE_RETRY_S = 60  # a due schedule waits while the agent awaits an approval
OUTBOX_BACKSTOP_S = 30  # the alarm replays an outbox that the post-turn flush did not empty
FLUSH_DELAY_S = 0.05  # the post-turn flush waits this long: the response first, then one batch for many turns


def gateway_model(services: Services, key_name: str | None) -> ModelCall:
    """The model, called in-process through the gateway as the caller's virtual key."""

    async def call(request: InternalChatRequest, stream: bool) -> AsyncIterator[StreamItem]:
        principal = key_principal(services, key_name)
        if stream:
            async for item in stream_chat(services, principal, request):
                yield item
        else:
            yield await chat(services, principal, request)

    return call


def _check_approver(services: Services, approver: str | None, paused: PausedTurn) -> None:
    """Only the key that started the turn, or a key of the tenant with `approve: true`, may approve."""
    if paused.known and approver == paused.started_by:
        return
    key = key_principal(services, approver).key
    if key is not None and key.approve:
        return
    starter = repr(paused.started_by) if paused.known and paused.started_by else "the key that started the turn"
    raise ApiError(
        403,
        "permission",
        f"only {starter} or a key with approve: true may approve this tool call",
        param="call_id",
        code="approval_not_allowed",
    )


def _usable_config(services: Services) -> AgentsConfig | None:
    """The agents section for background work (alarms, flushes), which never raises: an unusable
    section is logged and the work waits for a fixed config."""
    try:
        return agents_config(services.config)
    except ConfigError as error:
        log_event("agents", "config_invalid", error=str(error))
        return None


class AgentObject:
    def __init__(self, storage: ObjectStorage, fetch: Fetcher, clock: Any) -> None:
        self.storage = storage
        self.fetch = fetch  # outbound fetch for tools; must not follow redirects
        self.store = AgentStore(storage, clock)
        self.clock = clock
        self._turn_lock: asyncio.Lock | None = None
        self._flush_lock: asyncio.Lock | None = None
        self._flush_scheduled = False
        self.model_override: ModelCall | None = None  # tests and benchmarks script the model here

    @property
    def turn_lock(self) -> asyncio.Lock:
        if self._turn_lock is None:
            self._turn_lock = asyncio.Lock()
        return self._turn_lock

    @property
    def flush_lock(self) -> asyncio.Lock:
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        return self._flush_lock

    # ------------------------------------------------------------ requests

    async def handle(self, request: HttpRequest, services: Services) -> HttpResponse:
        try:
            return await self._handle(request, services)
        except ApiError as error:
            return error.to_response("openai")

    async def _handle(self, request: HttpRequest, services: Services) -> HttpResponse:
        config = serving_agents_config(services.config)
        try:
            call = AgentCall.from_bytes(request.body)
        except ValueError as error:
            raise bad_request(f"bad agent call: {error}") from None
        try:
            if call.op == "get":
                return self._describe(call)
            if call.op == "delete":
                return await self._delete(call)
            return await self._turn(call, config, services)
        except ApiError:
            raise
        except Exception as error:  # a bug: the gateway's error shape, never a traceback
            log_event(
                "agents",
                "agent_request_failed",
                op=call.op,
                error=type(error).__name__,
                detail=str(error)[:300],
            )
            raise ApiError(500, "internal", "internal agent error") from None

    def _describe(self, call: AgentCall) -> HttpResponse:
        if not self.store.opened() or (self.store.tenant, self.store.agent_id) != (
            call.tenant,
            call.agent_id,
        ):
            raise ApiError(404, "not_found", f"agent {call.agent_id!r} does not exist", param="agent_id")
        pending = self.store.pending()
        outbox = outbox_state(self.store)
        return HttpResponse.json(
            {
                "agent_id": call.agent_id,
                "messages": self.store.message_count(),
                "pending_approvals": [p.public() for p in pending],
                "schedules": [s.public() for s in self.store.schedules()],
                "state": {
                    "status": "awaiting_approval" if pending else "idle",
                    "last_seq": self.store.last_seq(),
                    "outbox_pending": outbox.pending,
                    "outbox_failures": outbox.failures,
                    "summary": None,
                },
            }
        )

    async def _delete(self, call: AgentCall) -> HttpResponse:
        async with self.turn_lock, self.flush_lock:
            existed = self.store.opened()
            await self.storage.delete_alarm()  # explicitly: deleteAll's effect on the alarm varies by backend
            await self.storage.delete_all()
            self.store.forget()
        return HttpResponse.json({"agent_id": call.agent_id, "deleted": existed})

    async def _turn(self, call: AgentCall, config: AgentsConfig, services: Services) -> HttpResponse:
        await self.turn_lock.acquire()  # first: arrival order is lock order
        try:
            self.store.open(call.tenant, call.agent_id)
            turn_events = await self._start(call, config, services)
        except BaseException:
            self.turn_lock.release()
            raise
        if call.stream:
            return self._stream(turn_events, call, services)
        try:
            outcome = await collect(turn_events)
        finally:
            await self._arm_backstop()
            self.turn_lock.release()
            self._after_turn(services)
        return HttpResponse.json(outcome.public(call.agent_id))

    async def _start(
        self, call: AgentCall, config: AgentsConfig, services: Services
    ) -> AsyncIterator[TurnEvent]:
        """The turn's events; raises ApiError for a call that cannot start (nothing stored then)."""
        pending = self.store.pending()
        if call.op == "message":
            if pending:
                ids = ", ".join(p.call_id for p in pending)
                raise ApiError(
                    409,
                    "invalid_request",
                    f"agent {call.agent_id!r} is awaiting approval of {ids}: "
                    f"POST /v1/agents/{call.agent_id}/approvals/<call_id> first",
                    param="agent_id",
                    code="awaiting_approval",
                )
            turn = await self._new_turn(config, services, call.key, call.stream)
            return turn.start(call.content or "")
        if not pending:
            raise ApiError(
                409,
                "invalid_request",
                f"agent {call.agent_id!r} has no tool call awaiting approval",
                param="call_id",
                code="nothing_pending",
            )
        if call.call_id not in {p.call_id for p in pending}:
            raise ApiError(
                404,
                "not_found",
                f"no pending tool call {call.call_id!r} (pending: {', '.join(p.call_id for p in pending)})",
                param="call_id",
                code="unknown_call_id",
            )
        paused = paused_turn(self.store)
        _check_approver(services, call.key, paused)
        # The resumed turn runs as the key that started it: its model permissions and its quota.
        turn = await self._new_turn(config, services, paused.started_by if paused.known else call.key, call.stream)
        return turn.resume(call.call_id or "", bool(call.approve), call.reason, approver=call.key)

    async def _new_turn(
        self, config: AgentsConfig, services: Services, key_name: str | None, stream: bool
    ) -> Turn:
        kv = services.kv.get(config.tools_binding) if config.tools_binding else None
        tools = (
            await ToolRegistry(kv, config.tool_cache_ttl_s, self.clock, config.tool_secrets).all(self.store.tenant) if kv else {}
        )
        context = ToolContext(
            services=services,
            config=config,
            tenant=self.store.tenant,
            store=self.store,
            key_name=key_name,
            fetch=self.fetch,
            kv=kv,
            rag_search=resolve_rag_search(services),
            on_schedule=self._on_schedule,
        )
        tools = await expand_mcp_tools(tools, context)
        model = self.model_override or gateway_model(services, key_name)
        return Turn(self.store, config, model, tools, context, self.clock, stream)

    def _stream(self, events: AsyncIterator[TurnEvent], call: AgentCall, services: Services) -> HttpResponse:
        """SSE: `step`, `tool_call`, `tool_result`, then `done` (the turn response) or `error`.

        The turn runs as its own task and finishes even if the client goes away."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def run() -> None:
            try:
                async for event in events:
                    queue.put_nowait(_sse(event, call.agent_id))
            except ApiError as error:
                queue.put_nowait(encode_event(dumps(error.payload("openai")), "error"))
            except Exception as error:  # a bug: end the stream with an error event, never hang it
                log_event("agents", "agent_turn_failed", error=type(error).__name__, detail=str(error)[:300])
                queue.put_nowait(encode_event(dumps({"error": {"message": "internal agent error"}}), "error"))
            finally:
                await self._arm_backstop()
                self.turn_lock.release()
                queue.put_nowait(None)
                self._after_turn(services)

        task = asyncio.ensure_future(run())
        services.wait_until(task)

        async def body() -> AsyncIterator[bytes]:
            while True:
                chunk = await queue.get()
                if chunk is None:
                    return
                yield chunk

        return HttpResponse(status=200, headers=dict(SSE_HEADERS), stream=body())

    async def _on_schedule(self, schedule: Schedule) -> None:
        await self.rearm()

    # ------------------------------------------------------------ outbox and alarm

    async def _arm_backstop(self) -> None:
        """Before a turn answers: the alarm covers its outbox rows even if the flush never runs."""
        try:
            await self.rearm()
        except Exception as error:  # the turn's messages are stored; only the replication waits
            log_event("agents", "agent_rearm_failed", error=type(error).__name__, detail=str(error)[:300])

    def _after_turn(self, services: Services) -> None:
        """Replicate the new messages to D1 shortly after the response (the alarm is the backstop).

        One flush at a time is scheduled: turns ending within FLUSH_DELAY_S share one D1 batch, and
        the response leaves before the flush starts."""
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        services.wait_until(self._flush_soon(services))

    async def _flush_soon(self, services: Services) -> None:
        await services.sleep(FLUSH_DELAY_S)
        self._flush_scheduled = False  # rows stored from now on get a flush of their own
        await self._flush_then_rearm(services)

    async def _flush_then_rearm(self, services: Services) -> None:
        config = _usable_config(services)
        if config is not None:
            await self.flush(services, config)
        await self.rearm()

    async def flush(self, services: Services, config: AgentsConfig) -> bool:
        async with self.flush_lock:
            if not self.store.opened():
                return True
            db = services.d1.get(config.history_binding)
            return await flush_outbox(self.store, db, self.clock)

    def _next_alarm_ms(self) -> float | None:
        """When the alarm should fire: the earliest due schedule or outbox retry, or never."""
        now_ms = self.clock() * 1000
        times: list[float] = []
        schedules = self.store.schedules()
        if schedules:
            due = float(schedules[0].due_ms)
            if due <= now_ms and self.store.pending():
                due = now_ms + PAUSED_SCHEDULE_RETRY_S * 1000
            times.append(due)
        outbox = outbox_state(self.store)
        if outbox.pending:
            times.append(outbox.retry_at_ms or now_ms + OUTBOX_BACKSTOP_S * 1000)
        return max(min(times), now_ms) if times else None

    async def rearm(self) -> None:
        """Set (or clear) the object's one alarm from its current state.

        Every purpose of the alarm is derived from the tables here, so setting it is always right;
        the decision and the storage call happen with no await between them, so of two concurrent
        re-arms the later one (seeing the newer state) is the one that sticks."""
        if not self.store.opened():
            return
        at_ms = self._next_alarm_ms()
        if at_ms is None:
            await self.storage.delete_alarm()
        else:
            await self.storage.set_alarm(at_ms)

    async def alarm(self, services: Services) -> None:
        """Run due schedules (each exactly once), replay the outbox, re-arm. Never raises: a failing
        outbox replay must not block schedules, and retries are scheduled here, not by the platform."""
        config = _usable_config(services)
        if config is None or not self.store.opened():
            return
        try:
            await self._run_due_schedules(config, services)
        except Exception as error:  # logged; the outbox and the re-arm still run
            log_event("agents", "agent_schedule_failed", error=type(error).__name__, detail=str(error)[:300])
        await self.flush(services, config)
        await self.rearm()

    async def _run_due_schedules(self, config: AgentsConfig, services: Services) -> None:
        async with self.turn_lock:
            now_ms = self.clock() * 1000
            for schedule in self.store.schedules():
                if schedule.due_ms > now_ms or self.store.pending():
                    return
                message = self.store.claim_schedule(schedule)
                if message is None:
                    continue  # already run (the alarm was delivered twice)
                await self._scheduled_turn(message, schedule, config, services)

    async def _scheduled_turn(
        self, message: Message, schedule: Schedule, config: AgentsConfig, services: Services
    ) -> TurnOutcome | None:
        try:
            turn = await self._new_turn(config, services, schedule.key_name, stream=False)
            outcome = await collect(turn.run_stored(message))
        except ApiError as error:  # the prompt is stored (the schedule ran once); the model failed
            log_event(
                "agents",
                "agent_schedule_turn_failed",
                schedule=schedule.id,
                status=error.status,
                detail=error.message,
            )
            return None
        log_event("agents", "agent_schedule_ran", schedule=schedule.id, status=outcome.status)
        return outcome


def _sse(event: TurnEvent, agent_id: str) -> bytes:
    if isinstance(event, StepDelta):
        return encode_event(dumps({"text": event.text}), "step")
    if isinstance(event, ToolCallEvent):
        return encode_event(
            dumps({"call_id": event.call_id, "tool": event.tool, "arguments": event.arguments}), "tool_call"
        )
    if isinstance(event, ToolResultEvent):
        return encode_event(
            dumps({"call_id": event.call_id, "tool": event.tool, "content": event.content}), "tool_result"
        )
    return encode_event(dumps(event.public(agent_id)), "done")
