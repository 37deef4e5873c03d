"""Answers from retrieved chunks: the numbered-sources prompt, and extractive answers (no LLM)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from .keyword import STOPWORDS
from .retrieval import SearchHit

EXTRACTIVE_MODEL = "extractive"
MAX_EXTRACTIVE_SENTENCES = 3
NO_ANSWER = "No indexed document answers this question."
SYSTEM_PROMPT = (
    "Answer the question using only the numbered sources below. After each claim, cite the "
    "source it comes from as [n]. If the sources do not contain the answer, say that you do not know."
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_WORD = re.compile(r"\w+")
_CITATION = re.compile(r"\[(\d{1,2})\]")
_FENCE = ("```", "~~~")
# A line that is a command, not prose: `$ cmd`, or a common command word followed by arguments.
_SHELL_LINE = re.compile(
    r"^(?:\$\s+|(?:curl|wget|pip3?|npm|npx|node|python3?|uv|git|cd|export|sudo|apt(?:-get)?|docker"
    r"|edgestack|pulumi|wrangler|bash|sh|\.venv/bin/\S+|scripts/\S+)(?:\s|$))"
)
# A question asking for code keeps code blocks and command lines as answer candidates.
CODE_QUESTION_TERMS = frozenset(
    {"code", "command", "commands", "curl", "snippet", "example", "examples", "script", "shell", "syntax"}
)


class Answer(NamedTuple):
    text: str
    citations: tuple[SearchHit, ...]
    model: str

    def public(self, cache: str) -> dict[str, Any]:
        return {
            "answer": self.text,
            "citations": [
                {"doc_id": h.doc_id, "chunk": h.chunk, "title": h.title, "score": h.score, "text": h.text}
                for h in self.citations
            ],
            "model": self.model,
            "cache": cache,
        }


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.casefold()) if w not in STOPWORDS}


def sources_block(hits: Sequence[SearchHit]) -> str:
    parts = []
    for number, hit in enumerate(hits, start=1):
        label = f" ({hit.title})" if hit.title else ""
        parts.append(f"[{number}] {hit.doc_id}{label}\n{hit.text.strip()}")
    return "\n\n".join(parts)


def prompt_messages(question: str, hits: Sequence[SearchHit]) -> list[dict[str, str]]:
    """The chat messages for generation: instructions, then the numbered sources and the question."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Sources:\n\n{sources_block(hits)}\n\nQuestion: {question}"},
    ]


def cited_numbers(text: str, count: int) -> list[int]:
    """The source numbers an answer cites as [n], in order of first mention, within 1..count."""
    seen: list[int] = []
    for match in _CITATION.finditer(text):
        number = int(match.group(1))
        if 1 <= number <= count and number not in seen:
            seen.append(number)
    return seen


def _starts_inside_fence(fence_lines: list[str]) -> bool:
    """A chunk can begin inside a code block. Its first fence is then a bare (closing) one, and
    either it has no partner or the next fence opens a block with an info string (```sh)."""
    if not fence_lines or fence_lines[0] not in _FENCE:
        return False
    return len(fence_lines) % 2 == 1 or fence_lines[1] not in _FENCE


def prose_lines(text: str, keep_code: bool = False) -> list[str]:
    """The chunk's lines without headings and, unless `keep_code`, without code blocks (also one cut
    by the chunk's edges) and command lines."""
    lines = text.splitlines()
    fences = [line.strip() for line in lines if line.strip().startswith(_FENCE)]
    inside = _starts_inside_fence(fences)
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(_FENCE):
            inside = not inside
            if not keep_code:
                out.append("")  # a block boundary ends the sentence before it
            continue
        if stripped.startswith("#"):
            out.append("")
            continue
        if not keep_code and (inside or _SHELL_LINE.match(stripped)):
            continue
        out.append(line)
    return out


def _sentences(text: str, keep_code: bool = False) -> list[str]:
    """Prose sentences of a chunk: code blocks, command lines and headings are not answers."""
    out = []
    for piece in _SENTENCE_SPLIT.split("\n".join(prose_lines(text, keep_code))):
        sentence = " ".join(piece.split())
        if len(_WORD.findall(sentence)) >= 3:
            out.append(sentence)
    return out


def extractive_answer(question: str, hits: Sequence[SearchHit]) -> Answer:
    """The sentences of the top chunks that share most terms with the question, each cited [n]."""
    if not hits:
        return Answer(NO_ANSWER, (), EXTRACTIVE_MODEL)
    wanted = _terms(question)
    keep_code = bool(CODE_QUESTION_TERMS & set(_WORD.findall(question.casefold())))
    scored: list[tuple[float, int, int, str]] = []
    seen: set[str] = set()  # overlapping chunks repeat sentences: each is a candidate once
    for number, hit in enumerate(hits, start=1):
        for position, sentence in enumerate(_sentences(hit.text, keep_code)):
            if sentence in seen:
                continue
            seen.add(sentence)
            overlap = len(wanted & _terms(sentence)) / max(1, len(wanted))
            length_penalty = 0.1 if len(sentence) > 400 else 0.0
            score = overlap + 0.05 / number - length_penalty
            scored.append((score, number, position, sentence))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    picked = [item for item in scored if item[0] > 0.05 / len(hits)][:MAX_EXTRACTIVE_SENTENCES]
    if not picked and scored:
        picked = [min(scored, key=lambda item: (item[1], item[2]))]
    if not picked:
        return Answer(NO_ANSWER, tuple(hits), EXTRACTIVE_MODEL)
    picked.sort(key=lambda item: (item[1], item[2]))  # reading order within and across sources
    text = " ".join(f"{sentence} [{number}]" for _, number, _, sentence in picked)
    return Answer(text, tuple(hits), EXTRACTIVE_MODEL)


def cited_text(payload: dict[str, Any]) -> str:
    """An answer payload as text: the answer, then `Sources:` with `[n] doc_id (title)` lines."""
    sources = "\n".join(
        f"[{n}] {c['doc_id']}" + (f" ({c['title']})" if c["title"] else "")
        for n, c in enumerate(payload["citations"], start=1)
    )
    return f"{payload['answer']}\n\nSources:\n{sources}" if sources else payload["answer"]
