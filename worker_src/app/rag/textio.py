"""Request bodies to document text: content types, UTF-8 decoding, HTML tag stripping."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any, NamedTuple

from ..web.errors import ApiError, bad_request
from ..web.jsonbody import JsonBodyError, read_json

TEXT_TYPES = ("text/plain", "text/markdown", "text/html")
JSON_TYPE = "application/json"
# Converted to Markdown by Workers AI toMarkdown (convert.py); media type -> file extension.
RICH_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}
MAX_TITLE_CHARS = 300
MAX_METADATA_JSON_BYTES = 2048
RESERVED_METADATA_KEYS = frozenset({"tenant", "doc_id", "chunk", "title", "folder", "filename", "updated_at"})


class DocumentBody(NamedTuple):
    text: str
    title: str
    metadata: dict[str, str | int | float | bool]
    content_type: str  # of the stored original


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def decode_utf8(data: bytes, field: str = "body") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request(
            f"{field} is not valid UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} "
            f"({error.reason}); send UTF-8 text",
            field,
        ) from None


class _TextExtractor(HTMLParser):
    """Visible text of an HTML document: tags dropped, script/style skipped, blocks end lines."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "pre", "blockquote"}
    )
    HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self.HEADINGS:
            self.parts.append("\n\n" + "#" * self.HEADINGS[tag] + " ")  # keeps the structure for chunking
        elif tag in self.BLOCKS:
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in self.HEADINGS or tag in self.BLOCKS:
            self.parts.append("\n\n" if tag in self.HEADINGS or tag == "p" else "\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(text, <title>) of an HTML document, with the stdlib parser."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text, blank = [], False
    for line in lines:
        if line or not blank:
            text.append(line)
        blank = not line
    return "\n".join(text).strip(), " ".join(parser.title.split())


def check_metadata(value: Any) -> dict[str, str | int | float | bool]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request("'metadata' must be an object of string, number or boolean values", "metadata")
    for key, item in value.items():
        if key in RESERVED_METADATA_KEYS or key.startswith("$") or not key:
            raise bad_request(f"metadata key {key!r} is reserved", f"metadata.{key}")
        if item is None or not isinstance(item, str | int | float | bool):
            raise bad_request(
                f"metadata.{key} must be a string, number or boolean (Vectorize metadata)", f"metadata.{key}"
            )
    if len(json.dumps(value).encode()) > MAX_METADATA_JSON_BYTES:
        raise bad_request(f"'metadata' must be at most {MAX_METADATA_JSON_BYTES} bytes of JSON", "metadata")
    return dict(value)


def check_title(title: Any, field: str = "title") -> str:
    if title is None:
        return ""
    if not isinstance(title, str):
        raise bad_request(f"'{field}' must be a string", field)
    title = " ".join(title.split())
    if len(title) > MAX_TITLE_CHARS:
        raise bad_request(f"'{field}' must be at most {MAX_TITLE_CHARS} characters", field)
    return title


def parse_document(data: bytes, content_type: str, header_title: str = "") -> DocumentBody:
    """The text to index from a PUT body; 400/415 naming the field on bad input, never a traceback."""
    kind = media_type(content_type) or "text/plain"
    title = check_title(header_title, "x-edgestack-title")
    if kind == JSON_TYPE:
        try:
            payload = read_json(decode_utf8(data), what="body")
        except JsonBodyError as error:
            raise bad_request(error.message, error.field) from None
        if not isinstance(payload, dict):
            raise bad_request('body must be a JSON object {"text", "title"?, "metadata"?}', "body")
        unknown = sorted(set(payload) - {"text", "title", "metadata"})
        if unknown:
            raise bad_request(f"unknown field(s) in body: {', '.join(unknown)}", unknown[0])
        text = payload.get("text")
        if not isinstance(text, str):
            raise bad_request("'text' is required and must be a string", "text")
        title = check_title(payload.get("title")) or title
        return DocumentBody(_require_text(text, "text"), title, check_metadata(payload.get("metadata")), kind)
    if kind not in TEXT_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"content-type must be one of {', '.join((*TEXT_TYPES, JSON_TYPE, *RICH_TYPES))} (got {kind})",
            param="content-type",
        )
    text = decode_utf8(data)
    if kind == "text/html":
        text, html_title = html_to_text(text)
        title = title or check_title(html_title[:MAX_TITLE_CHARS])
    elif kind == "text/markdown":
        title = title or check_title(markdown_title(text)[:MAX_TITLE_CHARS])
    return DocumentBody(_require_text(text, "body"), title, {}, kind)


_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")


def markdown_title(text: str) -> str:
    """The first ATX heading (`# Title`) outside code blocks, or ""."""
    inside_code = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            inside_code = not inside_code
            continue
        match = None if inside_code else _ATX_HEADING.match(line)
        if match:
            return match.group(1).strip()
    return ""


def _require_text(text: str, field: str) -> str:
    if not text.strip():
        raise bad_request("the document is empty (no text to index)", field)
    return text
