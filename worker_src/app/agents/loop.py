"""The tool-calling loop of one turn, inside the agent's Durable Object.

A turn: the model is called through the gateway with the recent messages and the tenant's tools;
each requested tool runs and its result goes back; this repeats until the model answers without
tool calls (`completed`), a tool needs a human (`awaiting_approval`), or a budget runs out
(`budget_exhausted`: `max_turns` model calls, `max_tool_calls` tool calls, `turn_deadline_s`).
Budgets never fail a turn. Every message is stored as soon as it exists, so a paused or cut turn
leaves a conversation the model can continue (each tool call has a result or a pending approval).

The caller serializes turns (the object's turn lock); this module is plain async code.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from ..gateway.internal import ChatResult, InternalChatRequest, StreamItem, TextDelta, ToolCall
from .config import AgentsConfig
from .runner import ToolContext, error_result, result_text, run_tool
from .store import AgentStore, Message, PendingApproval, bound_text
from .tools import ToolSpec

TurnStatus = Literal["completed", "awaiting_approval", "budget_exhausted"]
ModelCall = Callable[[InternalChatRequest, bool], AsyncIterator[StreamItem]]
COUNTERS_KEY = "paused_turn"
MAX_ARGUMENT_CHARS = 100_000  # a tool call's arguments; longer ones are refused (and cut when stored)


class StepDelta(NamedTuple):
    text: str


class ToolCallEvent(NamedTuple):
    call_id: str
    tool: str
    arguments: str


class ToolResultEvent(NamedTuple):
    call_id: str
    tool: str
    content: str


class TurnOutcome(NamedTuple):
    status: TurnStatus
    output: str | None
    messages: list[Message]
    pending: list[PendingApproval]
    reason: str | None = None  # which budget ran out

    def public(self, agent_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "agent_id": agent_id,
            "status": self.status,
            "output": self.output,
            "messages": [m.public() for m in self.messages],
            "pending_approvals": [p.public() for p in self.pending],
        }
        if self.reason:
            out["budget"] = self.reason
        return out


TurnEvent = StepDelta | ToolCallEvent | ToolResultEvent | TurnOutcome  # the outcome comes last


@dataclass
class Counters:
    model_calls: int = 0
    tool_calls: int = 0


def _normalized_calls(calls: tuple[ToolCall, ...]) -> list[ToolCall]:
    """Every call with a unique, non-empty id (some providers send none, or reuse `call_0`)."""
    seen: set[str] = set()
    out = []
    for call in calls:
        call_id = call.id
        if not call_id or call_id in seen or len(call_id) > 128:
            call_id = "call_" + uuid.uuid4().hex[:24]
        seen.add(call_id)
        out.append(call._replace(id=call_id))
    return out


def _openai_calls(calls: list[ToolCall]) -> list[dict[str, Any]]:
    """As stored: oversized arguments are cut (the call is then answered with an error, not run)."""
    return [
        {
            "id": c.id,
            "type": "function",
            "function": {"name": c.name[:128], "arguments": bound_text(c.arguments, MAX_ARGUMENT_CHARS)},
        }
        for c in calls
    ]


class Turn:
    """One turn's loop. `model(request, stream)` yields deltas (when streaming) and a ChatResult."""

    def __init__(
        self,
        store: AgentStore,
        config: AgentsConfig,
        model: ModelCall,
        tools: dict[str, ToolSpec],
        tool_context: ToolContext,
        clock: Callable[[], float],
        stream: bool = False,
    ) -> None:
        self.store = store
        self.config = config
        self.model = model
        self.tools = tools
        self.tool_context = tool_context
        self.clock = clock
        self.stream = stream
        self.added: list[Message] = []
        self.deadline = clock() + config.turn_deadline_s

    # ------------------------------------------------------------ entry points

    async def start(self, content: str) -> AsyncIterator[TurnEvent]:
        """A new user message, then the loop."""
        self.added.append(self.store.append("user", content))
        async for event in self._loop(Counters()):
            yield event

    async def run_stored(self, message: Message) -> AsyncIterator[TurnEvent]:
        """The loop for a user message already stored (a schedule's prompt)."""
        self.added.append(message)
        async for event in self._loop(Counters()):
            yield event

    async def resume(
        self, call_id: str, approve: bool, reason: str | None, approver: str | None
    ) -> AsyncIterator[TurnEvent]:
        """Resolve a pending approval: run the tool, or tell the model it was refused; then go on.
        The stored tool result names the approver's key (`approved_by` / `refused_by`)."""
        pending = {p.call_id: p for p in self.store.pending()}
        approval = pending[call_id]
        saved = self.store.meta_json(COUNTERS_KEY) or {}
        counters = Counters(int(saved.get("model_calls", 0)), int(saved.get("tool_calls", 0)))
        if approve:
            counters.tool_calls += 1
            content = await self._run(approval.tool, approval.arguments)
        else:
            content = error_result(
                "the user refused this tool call" + (f": {reason}" if reason else "") + "; do not retry it"
            )
        content = _with_approver(content, approve, approver)
        self.added.append(self.store.resolve_pending(call_id, content))
        yield ToolResultEvent(call_id, approval.tool, content)
        still = self.store.pending()
        if still:
            self._save(counters)
            yield self._outcome("awaiting_approval", None, still)
            return
        self.store.delete_meta(COUNTERS_KEY)
        async for event in self._loop(counters):
            yield event

    # ------------------------------------------------------------ the loop

    def context(self) -> list[dict[str, Any]]:
        """The prompt: system prompt, then the last `max_context_messages` messages, starting at a
        user message so no tool result is separated from the call it answers."""
        recent = self.store.recent(self.config.max_context_messages)
        start = next((i for i, m in enumerate(recent) if m.role == "user"), None)
        if start is None:
            start = next((i for i, m in enumerate(recent) if m.role != "tool"), len(recent))
        prompt = [m.prompt() for m in recent[start:]]
        if self.config.system_prompt:
            prompt.insert(0, {"role": "system", "content": self.config.system_prompt})
        return prompt

    async def _loop(self, counters: Counters) -> AsyncIterator[TurnEvent]:
        while True:
            if counters.model_calls >= self.config.max_turns:
                yield self._outcome("budget_exhausted", None, [], "max_turns")
                return
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                yield self._outcome("budget_exhausted", None, [], "turn_deadline_s")
                return
            counters.model_calls += 1
            request = InternalChatRequest(
                model=self.config.model_alias or "",
                messages=self.context(),
                tools=[spec.openai() for spec in self.tools.values()] or None,
            )
            result: ChatResult | None = None
            replies = self.model(request, self.stream).__aiter__()
            while True:
                try:  # the deadline bounds every wait, not just the whole call
                    wait = max(0.001, self.deadline - self.clock())
                    item = await asyncio.wait_for(replies.__anext__(), wait)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    await _close(replies)
                    yield self._outcome("budget_exhausted", None, [], "turn_deadline_s")
                    return
                if isinstance(item, TextDelta):
                    yield StepDelta(item.text)
                elif isinstance(item, ChatResult):
                    result = item
            assert result is not None
            calls = _normalized_calls(result.tool_calls)
            assistant = self.store.append(
                "assistant", result.content, tool_calls=_openai_calls(calls) or None
            )
            self.added.append(assistant)
            if not calls:
                yield self._outcome("completed", result.content, [])
                return
            exhausted: str | None = None
            for position, call in enumerate(calls):
                yield ToolCallEvent(call.id, call.name, call.arguments)
                spec = self.tools.get(call.name)
                if len(call.arguments) > MAX_ARGUMENT_CHARS:
                    content = error_result(
                        f"not run: the arguments are {len(call.arguments)} characters (limit {MAX_ARGUMENT_CHARS})"
                    )
                    self.added.append(self.store.append("tool", content, tool_call_id=call.id))
                    yield ToolResultEvent(call.id, call.name, content)
                    continue
                if spec is not None and spec.requires_approval:
                    self.store.add_pending(call.id, call.name, call.arguments, position)
                    continue
                if counters.tool_calls >= self.config.max_tool_calls:
                    exhausted = "max_tool_calls"
                    content = error_result(
                        "not run: this turn's tool-call budget (max_tool_calls) is used up"
                    )
                elif self.clock() >= self.deadline:
                    exhausted = "turn_deadline_s"
                    content = error_result("not run: this turn's time budget (turn_deadline_s) is used up")
                else:
                    counters.tool_calls += 1
                    content = await self._run(call.name, call.arguments)
                self.added.append(self.store.append("tool", content, tool_call_id=call.id))
                yield ToolResultEvent(call.id, call.name, content)
            pending = self.store.pending()
            if pending:
                self._save(counters)
                yield self._outcome("awaiting_approval", None, pending)
                return
            if exhausted:
                yield self._outcome("budget_exhausted", None, [], exhausted)
                return

    async def _run(self, name: str, arguments: str) -> str:
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            return error_result("not run: this turn's time budget (turn_deadline_s) is used up")
        try:
            return await asyncio.wait_for(
                run_tool(self.tools.get(name), name, arguments, self.tool_context), remaining
            )
        except TimeoutError:
            return error_result(f"tool {name!r} was stopped: the turn's time budget ran out")

    def _save(self, counters: Counters) -> None:
        paused = {
            "model_calls": counters.model_calls,
            "tool_calls": counters.tool_calls,
            "started_by": self.tool_context.key_name,  # the resumed turn runs as this key
        }
        self.store.set_meta(COUNTERS_KEY, json.dumps(paused))

    def _outcome(
        self,
        status: TurnStatus,
        output: str | None,
        pending: list[PendingApproval],
        reason: str | None = None,
    ) -> TurnOutcome:
        if status == "budget_exhausted" and output is None:
            output = next(
                (m.content for m in reversed(self.added) if m.role == "assistant" and m.content), None
            )
        return TurnOutcome(status, output, list(self.added), pending, reason)


class PausedTurn(NamedTuple):
    known: bool  # False: paused before the starter was recorded
    started_by: str | None  # the virtual key name (None: anonymous on a public stack)


def paused_turn(store: AgentStore) -> PausedTurn:
    saved = store.meta_json(COUNTERS_KEY) or {}
    if "started_by" not in saved:
        return PausedTurn(False, None)
    starter = saved["started_by"]
    return PausedTurn(True, starter if isinstance(starter, str) else None)


def _with_approver(content: str, approved: bool, approver: str | None) -> str:
    """The tool result with who approved (or refused) it, as stored in the history."""
    field = "approved_by" if approved else "refused_by"
    try:
        payload = json.loads(content)
    except ValueError:  # cut by max_tool_output_chars: keep the text as it is
        payload = None
    if isinstance(payload, dict):
        return result_text({field: approver, **payload})
    return result_text({field: approver, "output": content})


async def _close(replies: AsyncIterator[Any]) -> None:
    closer = getattr(replies, "aclose", None)
    if closer is not None:
        await closer()


async def collect(events: AsyncIterator[TurnEvent]) -> TurnOutcome:
    """Run a turn to its outcome (non-streaming callers)."""
    outcome: TurnOutcome | None = None
    async for event in events:
        if isinstance(event, TurnOutcome):
            outcome = event
    assert outcome is not None
    return outcome
