"""The RAG retrieval mode `edgestack dev` runs when the stack file does not choose one.

On Cloudflare (and locally with the real embedder) the default is `hybrid`. With the hashing
embedder (the floor: it matches words and knows no meaning), fusing its weak ranking with the keyword
index's loses to the keyword index alone (docs/benchmarks.md#rag), so the local default is `keyword`.
A `rag.mode` written in the stack file is always kept.
"""

from __future__ import annotations

from infra.spec import Stack

FLOOR_MODE = "keyword"


def local_rag_mode(stack: Stack, language_model: bool) -> tuple[Stack, str | None]:
    """(the stack to plan, a banner line or None)."""
    rag = stack.rag
    if rag is None or not rag.enabled:
        return stack, None
    if "mode" in rag.model_fields_set:
        return stack, f"RAG: default mode {rag.mode} (set in the stack file)"
    if language_model:
        return stack, f"RAG: default mode {rag.mode}"
    floored = stack.model_copy(update={"rag": rag.model_copy(update={"mode": FLOOR_MODE})})
    return floored, (
        f"RAG: default mode {FLOOR_MODE}, not {rag.mode}: the hashing embedder knows no meaning "
        "(set rag.mode in the stack file to choose)"
    )
