"""RAG on the REAL local runtime (`edgestack dev`: the Worker on Pyodide inside Miniflare/workerd, with
Miniflare's D1 (FTS5 keyword index), R2 and KV, the local Vectorize, queue and Workers AI bindings, and
the hashing embedder). One runtime serves the whole module; each test uses its own document ids and
questions, so no test sees another's cache entries.

The stack is stacks/local.yaml with two virtual keys (two tenants, one of them read-only) and a small
`rag.inline_max_bytes`, so a large document goes through the queue. Deselect with
`-m "not dev_runtime"` on a machine without Node.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from harness.planned import key_sha256
from harness.target import DEFAULT_DEV_COMMAND, running_dev

pytestmark = pytest.mark.dev_runtime

REPO = Path(__file__).resolve().parents[2]
WRITER, READER, OTHER = "sk-rag-writer", "sk-rag-reader", "sk-rag-other"


@contextlib.contextmanager
def rag_runtime() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="edgestack-rag-") as tmp:
        folder = Path(tmp)
        stack = yaml.safe_load((REPO / "stacks" / "local.yaml").read_text())
        stack["gateway"]["public"] = False
        stack["gateway"]["keys"] = {
            "writer": {"sha256": key_sha256(WRITER), "scope": "acme", "documents": "write"},
            "reader": {"sha256": key_sha256(READER), "scope": "acme"},
            "other": {"sha256": key_sha256(OTHER), "scope": "globex", "documents": "write"},
        }
        stack["rag"]["inline_max_bytes"] = 8000
        stack["rag"]["expose_as_model"] = "docs-rag"
        stack["bindings"]["queues"]["RAG_INGEST"] = {"max_batch_timeout_s": 0}
        (folder / "migrations").symlink_to(REPO / "stacks" / "migrations")
        stack_path = folder / "rag-test.yaml"
        stack_path.write_text(yaml.safe_dump(stack, sort_keys=False))
        with running_dev(DEFAULT_DEV_COMMAND, stack_path, folder / "state", os.environ) as (base_url, _log):
            yield base_url


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with rag_runtime() as url:
        yield url


def _client(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {key}"}, timeout=30)


GUIDE = (
    "# Backups\n\nThe nightly backup copies every bucket to cold storage at 02:00 UTC.\n\n"
    "## Restores\n\nA restore needs two approvals from the on-call team before it starts.\n"
)


def test_put_query_with_citations_cache_hit_and_delete(base_url: str) -> None:
    with _client(base_url, WRITER) as client:
        put = client.put(
            "/v1/documents/ops/backups.md",
            content=GUIDE,
            headers={"content-type": "text/markdown", "x-edgestack-title": "Backups"},
        )
        assert put.status_code == 200 and put.json()["status"] == "ready"
        checked = client.get("/v1/documents/ops/backups.md", params={"check": "vectors"}).json()["vectors"]
        assert checked == {"checked": put.json()["chunks"], "visible": put.json()["chunks"]}
        question = {"question": "How many approvals does a restore need?"}
        first = client.post("/v1/rag/query", json=question)
        body = first.json()
        assert first.status_code == 200 and first.headers["x-edgestack-cache"] == "MISS"
        assert "two approvals" in body["answer"] and "[1]" in body["answer"]
        assert (
            body["citations"][0]["doc_id"] == "ops/backups.md" and body["citations"][0]["title"] == "Backups"
        )
        second = client.post("/v1/rag/query", json=question)
        assert second.headers["x-edgestack-cache"] == "HIT" and second.json()["answer"] == body["answer"]
        assert client.get("/v1/documents/ops/backups.md/content").text == GUIDE
        assert client.delete("/v1/documents/ops/backups.md").status_code == 200
        after = client.post("/v1/rag/query", json=question)
        assert after.headers["x-edgestack-cache"] == "MISS" and "two approvals" not in after.text
        assert client.get("/v1/documents/ops/backups.md").status_code == 404


def test_tenants_are_isolated_and_read_only_keys_cannot_write(base_url: str) -> None:
    with (
        _client(base_url, WRITER) as acme,
        _client(base_url, OTHER) as globex,
        _client(base_url, READER) as reader,
    ):
        assert (
            acme.put(
                "/v1/documents/same.txt",
                content="Acme's vault code is HELIOTROPE.",
                headers={"content-type": "text/plain"},
            ).status_code
            == 200
        )
        assert (
            globex.put(
                "/v1/documents/same.txt",
                content="Globex cafeteria serves soup on Fridays.",
                headers={"content-type": "text/plain"},
            ).status_code
            == 200
        )
        hits = globex.post("/v1/rag/search", json={"query": "vault code heliotrope"}).json()["data"]
        assert all("HELIOTROPE" not in h["text"] for h in hits)
        assert "HELIOTROPE" in reader.post("/v1/rag/query", json={"question": "What is the vault code?"}).text
        denied = reader.put("/v1/documents/x.txt", content="no", headers={"content-type": "text/plain"})
        assert denied.status_code == 403 and denied.json()["error"]["param"] == "documents"


def test_bad_input_is_a_4xx_naming_the_field(base_url: str) -> None:
    with _client(base_url, WRITER) as client:
        cases = [
            (
                client.put("/v1/documents/e.txt", content=b"  ", headers={"content-type": "text/plain"}),
                400,
                "body",
            ),
            (
                client.put(
                    "/v1/documents/l.txt",
                    content="é".encode("latin-1"),
                    headers={"content-type": "text/plain"},
                ),
                400,
                "body",
            ),
            (
                client.put("/v1/documents/a..b", content=b"x", headers={"content-type": "text/plain"}),
                400,
                "id",
            ),
            (client.post("/v1/rag/search", json={"query": "x", "top_k": 50}), 400, "top_k"),
            (
                client.post("/v1/rag/search", json={"query": "x", "filter": {"category": {"$regex": "a"}}}),
                400,
                "filter.category.$regex",
            ),
            (client.post("/v1/rag/query", json={"question": ""}), 400, "question"),
        ]
        for response, status, param in cases:
            assert response.status_code == status and response.json()["error"]["param"] == param, (
                response.text
            )


def test_large_document_is_indexed_through_the_queue(base_url: str) -> None:
    text = "\n\n".join(
        f"Entry {i}: the lighthouse logs ship {i} passing the northern reef." for i in range(400)
    )
    with _client(base_url, WRITER) as client:
        put = client.put("/v1/documents/logbook.txt", content=text, headers={"content-type": "text/plain"})
        assert put.status_code == 202 and put.json()["status"] == "indexing"
        deadline = time.monotonic() + 60
        status = "indexing"
        while status == "indexing" and time.monotonic() < deadline:
            time.sleep(0.5)
            status = client.get("/v1/documents/logbook.txt").json()["status"]
        assert status == "ready"
        hits = client.post(
            "/v1/rag/search", json={"query": "ship 377 northern reef", "mode": "keyword"}
        ).json()["data"]
        assert hits and hits[0]["doc_id"] == "logbook.txt" and "ship 377" in hits[0]["text"]


def test_any_openai_client_gets_cited_rag_answers_from_the_exposed_model(base_url: str) -> None:
    import openai

    with _client(base_url, WRITER) as client:
        text = "The staging database is refreshed from production every Sunday at 04:00."
        assert (
            client.put(
                "/v1/documents/staging.txt", content=text, headers={"content-type": "text/plain"}
            ).status_code
            == 200
        )
    sdk = openai.OpenAI(base_url=base_url + "/v1", api_key=READER)
    assert "docs-rag" in [m.id for m in sdk.models.list().data]
    raw = sdk.chat.completions.with_raw_response.create(
        model="docs-rag", messages=[{"role": "user", "content": "When is the staging database refreshed?"}]
    )
    completion = raw.parse()
    assert (
        "every Sunday" in completion.choices[0].message.content
        and "[1] staging.txt" in completion.choices[0].message.content
    )
    assert '"doc_id":"staging.txt"' in raw.headers["x-edgestack-citations"]
    pieces = [
        c.choices[0].delta.content or ""
        for c in sdk.chat.completions.create(
            model="docs-rag",
            stream=True,
            messages=[{"role": "user", "content": "When is the staging database refreshed?"}],
        )
        if c.choices
    ]
    assert "every Sunday" in "".join(pieces)


def test_html_json_metadata_and_filters_on_the_local_vectorize_and_d1(base_url: str) -> None:
    with _client(base_url, WRITER) as client:
        html = "<html><head><title>Pager duty</title></head><body><h1>Rota</h1><p>The pager rotates every Monday.</p></body></html>"
        put = client.put("/v1/documents/rota.html", content=html, headers={"content-type": "text/html"})
        assert (
            put.status_code == 200 and client.get("/v1/documents/rota.html").json()["title"] == "Pager duty"
        )
        for doc_id, category in (("f/ops.json", "ops"), ("f/sales.json", "sales")):
            body = {
                "text": f"The {category} team rotates the pager every Monday.",
                "metadata": {"category": category},
            }
            assert client.put(f"/v1/documents/{doc_id}", json=body).status_code == 200
        for mode in ("vector", "keyword", "hybrid"):
            hits = client.post(
                "/v1/rag/search",
                json={"query": "pager rotation Monday", "mode": mode, "filter": {"category": "ops"}},
            ).json()["data"]
            assert [h["doc_id"] for h in hits] == ["f/ops.json"], mode
            hits = client.post(
                "/v1/rag/search",
                json={
                    "query": "pager rotation Monday",
                    "mode": mode,
                    "filter": {"category": {"$nin": ["ops"]}},
                },
            ).json()["data"]
            assert "f/ops.json" not in [h["doc_id"] for h in hits] and "f/sales.json" in [
                h["doc_id"] for h in hits
            ]


def test_a_pdf_and_a_docx_made_here_are_searchable_after_upload(base_url: str) -> None:
    from harness.documents import DOCX_TYPE, PDF_TYPE, docx_with, encrypted_pdf, pdf_with_text

    pdf = pdf_with_text(["Harbour crane inspection", "Crane 7 cables are load tested every spring."])
    docx = docx_with("Canteen", ["The canteen serves lentil soup on Thursdays."])
    with _client(base_url, WRITER) as client:
        for doc_id, data, kind in (("rich/crane.pdf", pdf, PDF_TYPE), ("rich/canteen.docx", docx, DOCX_TYPE)):
            put = client.put(f"/v1/documents/{doc_id}", content=data, headers={"content-type": kind})
            assert put.status_code in (200, 202), put.text  # the DOCX is over inline_max_bytes: queued
            deadline = time.monotonic() + 60
            while client.get(f"/v1/documents/{doc_id}").json()["status"] == "indexing" and time.monotonic() < deadline:
                time.sleep(0.5)
            assert client.get(f"/v1/documents/{doc_id}").json()["status"] == "ready"
            assert client.get(f"/v1/documents/{doc_id}/content").content == data
        for query, expected in (("crane cables load tested", "rich/crane.pdf"), ("lentil soup", "rich/canteen.docx")):
            hits = client.post("/v1/rag/search", json={"query": query, "mode": "keyword"}).json()["data"]
            assert hits and hits[0]["doc_id"] == expected, hits
        refused = client.put(
            "/v1/documents/rich/locked.pdf", content=encrypted_pdf(["secret"]), headers={"content-type": PDF_TYPE}
        )
        assert refused.status_code == 422 and "encrypted" in refused.json()["error"]["message"]
        assert client.get("/v1/documents/rich/locked.pdf").status_code == 404
