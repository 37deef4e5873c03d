"""PDF and Office documents: converted to Markdown before chunking (Workers AI toMarkdown; locally the
sidecar's converters), the original kept in R2, unconvertible files refused with a 422 and nothing
written. CPython, with an AI fake whose `to_markdown` is the local converter (infra/dev/markdown.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness.documents import DOCX_TYPE, PDF_TYPE, corrupt_pdf, docx_with, encrypted_pdf, pdf_with_text
from harness.rag_bindings import HashingAi
from harness.rag_world import RagWorld

from infra.dev.markdown import convert

PDF_LINES = ["Quarterly maintenance window", "The turbine gearbox oil is replaced every 4000 hours."]


class ConvertingAi(HashingAi):
    """Embeddings from the hashing embedder; toMarkdown answered by the local converter, in Workers AI's
    ConversionResult shape."""

    def __init__(self) -> None:
        super().__init__()
        self.converted: list[tuple[str, str]] = []

    async def to_markdown(self, name: str, data: bytes, content_type: str) -> Any:
        self.converted.append((name, content_type))
        return convert(name, content_type, data).public()


@pytest.fixture
def world() -> RagWorld:
    world = RagWorld()
    world.ai = ConvertingAi()
    return world


def _json(response: Any) -> Any:
    return json.loads(response.body)


def test_a_pdf_is_converted_indexed_and_kept_as_uploaded(world: RagWorld) -> None:
    pdf = pdf_with_text(PDF_LINES)
    put = world.request("PUT", "/v1/documents/manuals/turbine.pdf", pdf, content_type=PDF_TYPE)
    assert put.status == 200, put.body
    assert world.ai.converted == [("turbine.pdf", PDF_TYPE)]
    hits = _json(world.request("POST", "/v1/rag/search", {"query": "gearbox oil hours", "mode": "keyword"}))
    assert hits["data"][0]["doc_id"] == "manuals/turbine.pdf"
    assert "replaced every 4000 hours" in hits["data"][0]["text"]
    content = world.request("GET", "/v1/documents/manuals/turbine.pdf/content")
    assert content.body == pdf and content.headers["content-type"] == PDF_TYPE
    assert _json(world.request("GET", "/v1/documents/manuals/turbine.pdf"))["content_type"] == PDF_TYPE


def test_a_docx_keeps_its_headings(world: RagWorld) -> None:
    data = docx_with("Onboarding", ["New hires get a laptop on day one.", "Badges come from reception."])
    put = world.request("PUT", "/v1/documents/hr/onboarding.docx", data, content_type=DOCX_TYPE)
    assert put.status == 200, put.body
    hits = _json(world.request("POST", "/v1/rag/search", {"query": "laptop badge", "mode": "keyword"}))["data"]
    assert hits[0]["doc_id"] == "hr/onboarding.docx" and hits[0]["text"].startswith("# Onboarding")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (corrupt_pdf(), "cannot convert bad.pdf (application/pdf) to Markdown: the PDF is corrupt"),
        (encrypted_pdf(PDF_LINES), "the PDF is encrypted (password protected)"),
        (pdf_with_text([]), "bad.pdf (application/pdf) has no text to index"),
    ],
)
def test_an_unconvertible_pdf_is_a_422_and_nothing_is_written(world: RagWorld, data: bytes, reason: str) -> None:
    put = world.request("PUT", "/v1/documents/bad.pdf", data, content_type=PDF_TYPE)
    error = _json(put)["error"]
    assert put.status == 422 and error["param"] == "body" and reason in error["message"], error
    assert world.r2.objects == {} and world.vectors.vectors == {}
    assert world.request("GET", "/v1/documents/bad.pdf").status == 404


def test_a_corrupt_docx_is_a_422(world: RagWorld) -> None:
    put = world.request("PUT", "/v1/documents/x.docx", b"PK\x03\x04 not a zip", content_type=DOCX_TYPE)
    assert put.status == 422 and "cannot convert x.docx" in _json(put)["error"]["message"]
