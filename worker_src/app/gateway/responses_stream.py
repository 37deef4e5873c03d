"""Chat-completion chunks -> Responses API stream events (pure), and cache replays.

Event order (https://platform.openai.com/docs/api-reference/responses-streaming), each event with
a `sequence_number` counted from 0: `response.created`, `response.in_progress`; per text item
`response.output_item.added`, `response.content_part.added`, `response.output_text.delta`...,
`response.output_text.done`, `response.content_part.done`, `response.output_item.done`; per function
call `response.output_item.added`, `response.function_call_arguments.delta`...,
`response.function_call_arguments.done`, `response.output_item.done`; then `response.completed`
(or `response.incomplete` when the model hit `max_output_tokens`). A stream that breaks ends with
an `error` event and `response.failed`.
"""

from __future__ import annotations

from typing import Any

from .responses_translate import finish_response, function_call_item, message_item
from .tokens import TokenUsage
from .translate import JsonObject

ResponsesEvent = tuple[str, JsonObject]


class _Call:
    __slots__ = ("arguments", "call_id", "item_id", "name", "output_index")

    def __init__(self, item_id: str, call_id: str, name: str, output_index: int) -> None:
        self.item_id = item_id
        self.call_id = call_id
        self.name = name
        self.output_index = output_index
        self.arguments: list[str] = []


class ChatToResponsesStream:
    """Feed chat chunks (`feed`), then `finish`; each returns the Responses events to send."""

    def __init__(self, shell: JsonObject) -> None:
        self.shell = shell
        self.base = str(shell["id"]).removeprefix("resp_")
        self.sequence = 0
        self.output: list[JsonObject] = []  # finished items, in output order
        self.text: list[str] | None = None  # the open message item's text
        self.text_index = -1
        self.calls: dict[int, _Call] = {}
        self.open_call: _Call | None = None
        self.finish_reason: str | None = None
        self.usage = TokenUsage()
        self.response: JsonObject | None = None  # the final response, once finished

    def _event(self, event_type: str, /, **fields: Any) -> ResponsesEvent:
        data = {"type": event_type, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event_type, data

    def start(self) -> list[ResponsesEvent]:
        return [
            self._event("response.created", response=self.shell),
            self._event("response.in_progress", response=self.shell),
        ]

    @property
    def _message_id(self) -> str:
        return f"msg_{self.base}"

    def feed(self, chunk: JsonObject) -> list[ResponsesEvent]:
        if isinstance(chunk.get("usage"), dict):
            self.usage = TokenUsage.from_openai(chunk["usage"])
        events: list[ResponsesEvent] = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if isinstance(text, str) and text:
                events.extend(self._text(text))
            for call in delta.get("tool_calls") or []:
                events.extend(self._call(call))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _text(self, text: str) -> list[ResponsesEvent]:
        events = self._close_call()
        if self.text is None:
            self.text = []
            self.text_index = len(self.output)
            self.output.append({})  # placeholder, keeps output order
            events.append(
                self._event(
                    "response.output_item.added",
                    output_index=self.text_index,
                    item=message_item(self._message_id, "", status="in_progress"),
                )
            )
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=self._message_id,
                    output_index=self.text_index,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
                )
            )
        self.text.append(text)
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=self._message_id,
                output_index=self.text_index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _close_text(self) -> list[ResponsesEvent]:
        if self.text is None:
            return []
        text = "".join(self.text)
        self.text = None
        item = message_item(self._message_id, text)
        self.output[self.text_index] = item
        part = item["content"][0]
        fields = {"item_id": self._message_id, "output_index": self.text_index, "content_index": 0}
        return [
            self._event("response.output_text.done", **fields, text=text, logprobs=[]),
            self._event("response.content_part.done", **fields, part=part),
            self._event("response.output_item.done", output_index=self.text_index, item=item),
        ]

    def _call(self, delta: Any) -> list[ResponsesEvent]:
        if not isinstance(delta, dict):
            return []
        index = int(delta.get("index", 0))
        function = delta.get("function") or {}
        events: list[ResponsesEvent] = []
        call = self.calls.get(index)
        if call is None:
            events.extend(self._close_text())
            events.extend(self._close_call())
            call = _Call(
                f"fc_{self.base}_{index}",
                str(delta.get("id") or f"call_{self.base}_{index}"),
                str(function.get("name") or ""),
                len(self.output),
            )
            self.calls[index] = call
            self.open_call = call
            self.output.append({})
            events.append(
                self._event(
                    "response.output_item.added",
                    output_index=call.output_index,
                    item=function_call_item(call.item_id, call.call_id, call.name, "", status="in_progress"),
                )
            )
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            call.arguments.append(arguments)
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.item_id,
                    output_index=call.output_index,
                    delta=arguments,
                )
            )
        return events

    def _close_call(self) -> list[ResponsesEvent]:
        call, self.open_call = self.open_call, None
        if call is None:
            return []
        arguments = "".join(call.arguments) or "{}"
        item = function_call_item(call.item_id, call.call_id, call.name, arguments)
        self.output[call.output_index] = item
        return [
            self._event(
                "response.function_call_arguments.done",
                item_id=call.item_id,
                output_index=call.output_index,
                name=call.name,
                arguments=arguments,
            ),
            self._event("response.output_item.done", output_index=call.output_index, item=item),
        ]

    def finish(self) -> list[ResponsesEvent]:
        """Close the open items and send the final response (`response.completed` / `.incomplete`)."""
        events = self._close_text() + self._close_call()
        if not self.output:  # an empty answer is still one (empty) message
            events.extend(self._text(""))
            events.extend(self._close_text())
        self.response = finish_response(self.shell, self.output, self.usage, self.finish_reason)
        name = "response.completed" if self.response["status"] == "completed" else "response.incomplete"
        events.append(self._event(name, response=self.response))
        return events

    def fail(self, message: str) -> list[ResponsesEvent]:
        """The stream broke: an `error` event, then `response.failed`."""
        events = failure_events(self.shell, [item for item in self.output if item], message, self.sequence)
        self.sequence += len(events)
        return events


def failure_events(
    shell: JsonObject, output: list[JsonObject], message: str, sequence: int
) -> list[ResponsesEvent]:
    """What ends a broken Responses stream: `error`, then `response.failed` (numbered from `sequence`)."""
    failed = {
        **shell,
        "status": "failed",
        "error": {"code": "server_error", "message": message},
        "output": output,
    }
    error = {
        "type": "error",
        "sequence_number": sequence,
        "code": "server_error",
        "message": message,
        "param": None,
    }
    return [
        ("error", error),
        ("response.failed", {"type": "response.failed", "sequence_number": sequence + 1, "response": failed}),
    ]
