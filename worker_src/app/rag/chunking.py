"""Structure-aware chunking: Markdown headings, then paragraphs, then sentences, then words.

Every chunk is an exact slice `text[start:end]` of the document, at most `chunk_chars` long; a
chunk starts at most `overlap` characters before the previous one ended (and never after it), so
every character lands in some chunk. Each chunk carries its heading path (`Install > Linux`), used
as context when embedding and when showing the hit. Chunks are also kept under the embedding
model's token limit (`token_estimate`), so Workers AI never truncates one silently.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")
_SPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+|[^\w\s]")

MAX_EMBED_TOKENS = 500  # bge models read 512 tokens, [CLS] and [SEP] included; leave a margin


class Chunk(NamedTuple):
    index: int
    start: int
    end: int
    heading: str  # "A > B", "" before the first heading
    text: str

    def embedding_text(self, title: str) -> str:
        """What gets embedded: the title and heading path as context, then the chunk."""
        context = " > ".join(part for part in (title, self.heading) if part)
        return f"{context}\n{self.text}" if context else self.text


def token_estimate(text: str) -> int:
    """An over-estimate of WordPiece tokens: a word of n characters counts ceil(n / 4), each
    punctuation mark one, plus [CLS] and [SEP]."""
    return 2 + sum(
        math.ceil(len(t) / 4) if t[0].isalnum() or t[0] == "_" else 1 for t in _TOKEN.findall(text)
    )


class _Section(NamedTuple):
    start: int
    end: int
    heading: str


def _sections(text: str) -> list[_Section]:
    """Spans between headings (each heading line starts its section), with their heading paths."""
    marks: list[tuple[int, str]] = [(0, "")]
    path: list[tuple[int, str]] = []
    for match in _HEADING.finditer(text):
        level = len(match.group(1))
        path = [(lvl, name) for lvl, name in path if lvl < level] + [(level, match.group(2).strip())]
        marks.append((match.start(), " > ".join(name for _, name in path)))
    sections = []
    for (start, heading), (end, _) in zip(marks, [*marks[1:], (len(text), "")], strict=True):
        if end > start:
            sections.append(_Section(start, end, heading))
    merged: list[_Section] = []
    for section in sections:  # a heading with no body of its own joins the section after it
        if merged and not _has_body(text, merged[-1]):
            merged[-1] = _Section(merged[-1].start, section.end, section.heading)
        else:
            merged.append(section)
    return merged


def _has_body(text: str, section: _Section) -> bool:
    body = text[section.start : section.end]
    first_line, _, rest = body.partition("\n")
    return bool(rest.strip()) or not _HEADING.match(first_line)


def _cut(text: str, start: int, limit: int, floor: int) -> int:
    """Where to end a chunk in (floor, limit]: the last paragraph break, else sentence end, else
    whitespace, else `limit`."""
    window = text[floor:limit]
    for pattern in (_PARAGRAPH_END, _SENTENCE_END, _SPACE):
        ends = [m.end() for m in pattern.finditer(window) if m.end() > 0]
        if ends:
            return floor + ends[-1]
    return limit


def _next_start(text: str, cut: int, overlap: int, previous_start: int) -> int:
    """Start of the next chunk: `overlap` characters back from `cut`, moved forward to a word start."""
    if overlap <= 0:
        return cut
    start = max(previous_start + 1, cut - overlap)
    space = _SPACE.search(text, start, cut)
    return space.end() if space and space.end() < cut else start


def _split(text: str, start: int, end: int, chunk_chars: int, overlap: int) -> list[tuple[int, int]]:
    spans = []
    pos = start
    while pos < end:
        limit = min(pos + chunk_chars, end)
        cut = end if limit == end else _cut(text, pos, limit, pos + chunk_chars // 2)
        spans.append((pos, cut))
        if cut >= end:
            break
        pos = _next_start(text, cut, overlap, pos)
    return spans


def chunk_document(text: str, chunk_chars: int, overlap: int = 0, title: str = "") -> list[Chunk]:
    """The chunks of `text`; `overlap` must be below `chunk_chars // 2`."""
    if chunk_chars < 2 or not 0 <= overlap < chunk_chars // 2:
        raise ValueError("need chunk_chars >= 2 and 0 <= overlap < chunk_chars // 2")
    chunks: list[Chunk] = []
    for section in _sections(text):
        size = chunk_chars
        while True:
            spans = _split(text, section.start, section.end, size, min(overlap, size // 2 - 1))
            pieces = [(s, e) for s, e in spans if text[s:e].strip()]
            too_long = any(
                token_estimate(Chunk(0, s, e, section.heading, text[s:e]).embedding_text(title))
                > MAX_EMBED_TOKENS
                for s, e in pieces
            )
            if not too_long or size <= 64:
                break
            size = size * 3 // 4  # token-dense text (code, symbols): smaller chunks
        for s, e in pieces:
            chunks.append(Chunk(len(chunks), s, e, section.heading, text[s:e]))
    return chunks
