"""The FAQ cache: answers in KV under sha256(tenant, normalized question, corpus version, options).

The corpus version is the tenant's counter in D1 that every document change bumps (in the same
batch as the change), so an answer computed before an update is never looked up after it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..bindings import KvNamespace

KEY_PREFIX = "rag-faq:"
_PUNCTUATION_END = re.compile(r"[\s?!.]+$")


def normalize_question(question: str) -> str:
    """Case, spacing and trailing punctuation do not make a different question."""
    return _PUNCTUATION_END.sub("", " ".join(question.casefold().split()))


def cache_key(tenant: str, question: str, corpus_version: int, options: dict[str, Any]) -> str:
    material = json.dumps(
        [tenant, normalize_question(question), corpus_version, options], sort_keys=True, separators=(",", ":")
    )
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()


async def lookup(kv: KvNamespace, key: str) -> dict[str, Any] | None:
    raw = await kv.get(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("answer"), str) else None


async def store(kv: KvNamespace, key: str, payload: dict[str, Any], ttl_s: int) -> None:
    try:
        await kv.put(key, json.dumps(payload, separators=(",", ":")), expiration_ttl=max(60, ttl_s))
    except Exception:  # a lost cache write must never break an answer
        return
