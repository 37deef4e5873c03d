"""One Workers AI call with the retry policy every model call uses (embeddings, reranker, toMarkdown).

Failures that may pass (rate limits, capacity, 5xx, timeouts) are retried with exponential backoff;
input errors (Workers AI codes 5xxx such as 5006 "schema", 5007 "no such model") are not.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..bindings import Sleep

MAX_ATTEMPTS = 4
BASE_DELAY_S = 0.25
_RETRYABLE = re.compile(
    r"\b(429|5\d\d|3040|3043|3007)\b|capacity|rate.?limit|temporar|timed? ?out|internal server error",
    re.IGNORECASE,
)
_INPUT_ERROR = re.compile(r"\b500[0-9]:")  # Workers AI 5xxx codes are input errors ("5006: Error: ...")
T = TypeVar("T")


def is_retryable(error: BaseException) -> bool:
    text = str(error)
    return bool(_RETRYABLE.search(text)) and not _INPUT_ERROR.search(text)


async def call_retrying(
    call: Callable[[], Awaitable[T]], sleep: Sleep, fail: Callable[[str], Exception]
) -> T:
    """`await call()`, retried on retryable errors; `fail(message)` is raised for the last one."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await call()
        except Exception as error:
            if attempt == MAX_ATTEMPTS or not is_retryable(error):
                raise fail(str(error)[:300]) from None
            await sleep(BASE_DELAY_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def result_field(result: Any, name: str) -> Any:
    """`result[name]` of a JSON-object answer, else None."""
    return result.get(name) if isinstance(result, dict) else None
