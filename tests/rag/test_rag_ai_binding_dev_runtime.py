"""RAG on the REAL local runtime for a stack whose Workers AI binding is called BRAIN, not AI
(tests/rag/fixtures/ai-brain.yaml): the Worker binds the AI binding by the name the stack file
declares, so upload (embedding) and query work. Before, every upload answered
`503 rag needs the Workers AI binding`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness.target import DEFAULT_DEV_COMMAND, running_dev

pytestmark = pytest.mark.dev_runtime

STACK = Path(__file__).parent / "fixtures" / "ai-brain.yaml"
WRITER = "sk-brain-writer"  # its sha256 is in the fixture


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with tempfile.TemporaryDirectory(prefix="edgestack-brain-") as tmp:
        stack = Path(tmp) / "brain.yaml"  # the runtime writes its log next to the stack file
        stack.write_text(f"extends: {STACK}\n")
        with (
            running_dev(DEFAULT_DEV_COMMAND, stack, Path(tmp) / "state", os.environ) as (base_url, _log),
            httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {WRITER}"}, timeout=30) as http,
        ):
            yield http


def test_upload_and_query_through_an_ai_binding_named_brain(client: httpx.Client) -> None:
    guide = "# Restores\n\nA restore needs two approvals from the on-call team before it starts.\n"
    put = client.put("/v1/documents/ops/restores.md", content=guide, headers={"content-type": "text/markdown"})
    assert put.status_code == 200, put.text
    assert put.json()["status"] == "ready" and put.json()["chunks"] >= 1
    answer = client.post("/v1/rag/query", json={"question": "How many approvals does a restore need?"})
    assert answer.status_code == 200, answer.text
    assert "two approvals" in answer.json()["answer"]
    assert answer.json()["citations"][0]["doc_id"] == "ops/restores.md"
