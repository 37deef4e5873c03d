"""Rich documents (PDF, Word, Excel, PowerPoint) to Markdown before chunking, through Workers AI's
`toMarkdown` (https://developers.cloudflare.com/workers-ai/features/markdown-conversion/):
`env.AI.toMarkdown([{name, blob}])` answers `[{name, mimeType, format: "markdown", tokens, data}]`, or
`format: "error"` with `error`. Locally, the AI binding of `edgestack dev` converts in its sidecar.

The original bytes are what R2 stores; a file that cannot be converted is a 422 naming the reason,
before anything is written.
"""

from __future__ import annotations

from ..bindings import WorkersAi
from ..web.errors import ApiError
from .textio import RICH_TYPES, DocumentBody, media_type, parse_document

MAX_REASON_CHARS = 300


async def read_document(
    ai: WorkersAi | None, doc_id: str, data: bytes, content_type: str, header_title: str = ""
) -> DocumentBody:
    """The text to index: rich formats converted to Markdown, the rest as `parse_document` reads it."""
    kind = media_type(content_type)
    extension = RICH_TYPES.get(kind)
    if extension is None:
        return parse_document(data, content_type, header_title)
    if ai is None:
        raise ApiError(503, "misconfigured", f"rag needs the Workers AI binding (bindings.ai) to convert {kind}")
    name = doc_id.rpartition("/")[2]
    name = name if name.lower().endswith(extension) else f"{name}{extension}"
    try:
        result = await ai.to_markdown(name, data, kind)
    except Exception as error:
        raise ApiError(502, "upstream", f"toMarkdown failed for {name}: {str(error)[:MAX_REASON_CHARS]}") from None
    if not isinstance(result, dict) or result.get("format") not in ("markdown", "error"):
        raise ApiError(502, "upstream", f"toMarkdown answered without a ConversionResult for {name}")
    if result["format"] == "error" or not isinstance(result.get("data"), str):
        reason = str(result.get("error") or "no data")[:MAX_REASON_CHARS]
        raise ApiError(422, "invalid_request", f"cannot convert {name} ({kind}) to Markdown: {reason}", param="body")
    if not result["data"].strip():
        raise ApiError(422, "invalid_request", f"{name} ({kind}) has no text to index", param="body")
    return parse_document(result["data"].encode(), "text/markdown", header_title)._replace(content_type=kind)
