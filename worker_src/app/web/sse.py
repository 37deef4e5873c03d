"""Server-sent events: an incremental decoder and an encoder (WHATWG `text/event-stream`), and
the compact JSON their `data` lines carry."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


def dumps(value: Any) -> str:
    """Compact JSON as the Worker sends it (UTF-8, no spaces)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SseEvent(NamedTuple):
    data: str
    event: str | None = None


class SseDecoder:
    """Feed raw bytes as they arrive; get complete events back.

    Lines end in CRLF, LF or CR; `data` lines of one event join with LF; comment lines (`:`) and
    unknown fields are ignored; a blank line dispatches the event. Bytes are decoded per line, so a
    UTF-8 character split across network chunks is never mangled.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        events: list[SseEvent] = []
        while True:
            line, found = self._next_line()
            if not found:
                return events
            event = self._process(line)
            if event is not None:
                events.append(event)

    def flush(self) -> list[SseEvent]:
        """End of stream: per the spec, an event without its terminating blank line is discarded."""
        self._buffer, self._event, self._data = b"", None, []
        return []

    def _next_line(self) -> tuple[bytes, bool]:
        buffer = self._buffer
        lf = buffer.find(b"\n")
        cr = buffer.find(b"\r")
        if cr != -1 and (lf == -1 or cr < lf):
            if cr == len(buffer) - 1:
                return b"", False  # CR at the end: wait to see whether LF follows
            end = cr + 2 if buffer[cr + 1 : cr + 2] == b"\n" else cr + 1
            self._buffer = buffer[end:]
            return buffer[:cr], True
        if lf != -1:
            self._buffer = buffer[lf + 1 :]
            return buffer[:lf], True
        return b"", False

    def _process(self, raw: bytes) -> SseEvent | None:
        if not raw:
            if not self._data and self._event is None:
                return None
            event = SseEvent(data="\n".join(self._data), event=self._event)
            self._data, self._event = [], None
            return event if event.data or event.event else None
        line = raw.decode("utf-8", "replace")
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


def encode_event(data: str, event: str | None = None) -> bytes:
    lines = [f"event: {event}"] if event else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


DONE = encode_event("[DONE]")
