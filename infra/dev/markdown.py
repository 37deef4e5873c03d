"""Rich documents to Markdown for `edgestack dev`: the local stand-in of Workers AI `toMarkdown`.

PDF through `pypdf`, Word through `python-docx`, Excel through `openpyxl`, PowerPoint through
`python-pptx` (the `documents` extra, which `scripts/setup` installs). Like Workers AI, a file that
cannot be converted gives an error result naming the reason, never an exception.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


class ConversionError(ValueError):
    """The file cannot be converted; the message says why."""


@dataclass(frozen=True)
class Conversion:
    """Workers AI's ConversionResult: `format` "markdown" with `data`, or "error" with `error`."""

    name: str
    mime_type: str
    markdown: str | None
    error: str | None

    def public(self) -> dict[str, object]:
        base: dict[str, object] = {"name": self.name, "mimeType": self.mime_type}
        if self.markdown is None:
            return {**base, "format": "error", "error": self.error}
        tokens = len(self.markdown.split())  # an estimate: words, as the local runtime has no tokenizer
        return {**base, "format": "markdown", "tokens": tokens, "data": self.markdown}


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ConversionError("the PDF is encrypted (password protected); upload it decrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as error:
        raise ConversionError(f"the PDF is corrupt: {error}") from None
    return "\n\n".join(f"## Page {n}\n\n{text.strip()}" for n, text in enumerate(pages, 1) if text.strip())


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = paragraph.style.name if paragraph.style is not None else ""
        level = style.removeprefix("Heading ").strip()
        lines.append(f"{'#' * int(level)} {text}" if style.startswith("Heading ") and level.isdigit() else text)
    for table in document.tables:
        lines.append(_table([[cell.text.strip() for cell in row.cells] for row in table.rows]))
    return "\n\n".join(lines)


def _xlsx(data: bytes) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sections = []
    for sheet in workbook.worksheets:
        rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        rows = [row for row in rows if any(row)]
        if rows:
            sections.append(f"## {sheet.title}\n\n{_table(rows)}")
    return "\n\n".join(sections)


def _pptx(data: bytes) -> str:
    import pptx

    presentation = pptx.Presentation(io.BytesIO(data))
    sections = []
    for n, slide in enumerate(presentation.slides, 1):
        texts = [shape.text_frame.text.strip() for shape in slide.shapes if shape.has_text_frame]
        body = "\n\n".join(t for t in texts if t)
        if body:
            sections.append(f"## Slide {n}\n\n{body}")
    return "\n\n".join(sections)


def _table(rows: list[list[str]]) -> str:
    width = max(len(row) for row in rows)
    cells = [[c.replace("|", "\\|").replace("\n", " ") for c in row] + [""] * (width - len(row)) for row in rows]
    header, *body = cells
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * width, *("| " + " | ".join(r) + " |" for r in body)]
    )


CONVERTERS: dict[str, Callable[[bytes], str]] = {PDF: _pdf, DOCX: _docx, XLSX: _xlsx, PPTX: _pptx}


def convert(name: str, mime_type: str, data: bytes) -> Conversion:
    """`data` (a file called `name`) as Markdown, or an error result naming the reason."""
    converter = CONVERTERS.get(mime_type)
    if converter is None:
        return Conversion(name, mime_type, None, f"{mime_type} is not a supported format")
    try:
        markdown = converter(data).strip()
    except ConversionError as error:
        return Conversion(name, mime_type, None, str(error))
    except ImportError as error:
        return Conversion(name, mime_type, None, f"the converter is not installed ({error.name}): run scripts/setup")
    except Exception as error:  # the libraries raise many kinds on malformed files
        return Conversion(name, mime_type, None, f"the file is not a readable {name.rpartition('.')[2]}: {error}")
    return Conversion(name, mime_type, markdown, None)
