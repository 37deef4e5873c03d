"""Runs the Node unit suites of the local bindings (runtime/test/, `node --test`) and checks the
contract between the Workers AI binding (runtime/bindings/ai.mjs) and the Python embedding
sidecar (infra/dev/embeddings.py) by running one against the other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from infra.dev.embedders import HashingEmbedder
from infra.dev.embeddings import start_embedding_server

REPO = Path(__file__).resolve().parents[2]
AI_MODULE = (REPO / "runtime" / "bindings" / "ai.mjs").as_uri()


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("the local binding tests need Node.js 20+ on PATH", pytrace=False)
    return path


def test_node_binding_suites_pass() -> None:
    result = subprocess.run(
        [node(), "--test", "runtime/test/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node --test runtime/test/ failed:\n{output[-6000:]}"
    assert "# fail 0" in output
    assert "# pass 0" not in output


RUN_EMBEDDING = """
import { createAiBinding } from process.env.AI_MODULE;
const ai = createAiBinding({ embeddingsUrl: process.env.SIDECAR_URL });
try {
  const result = await ai.run(process.env.MODEL, { text: JSON.parse(process.env.TEXTS) });
  console.log(JSON.stringify({ ok: result }));
} catch (error) {
  console.log(JSON.stringify({ error: `${error.name}: ${error.message}` }));
}
"""


def run_embedding(sidecar_url: str, model: str, texts: Sequence[str]) -> dict[str, object]:
    script = RUN_EMBEDDING.replace("from process.env.AI_MODULE", f"from {json.dumps(AI_MODULE)}")
    env = os.environ | {"SIDECAR_URL": sidecar_url, "MODEL": model, "TEXTS": json.dumps(list(texts))}
    result = subprocess.run(
        [node(), "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_ai_binding_gets_the_sidecars_vectors() -> None:
    sidecar = start_embedding_server(embedder=HashingEmbedder())
    try:
        texts = ["Edge functions run close to users.", "second text"]
        reply = run_embedding(sidecar.url, "@cf/baai/bge-small-en-v1.5", texts)
        assert reply == {"ok": {"shape": [2, 384], "data": HashingEmbedder().embed(texts, 384)}}
    finally:
        sidecar.stop()


def test_ai_binding_relays_the_sidecars_dimension_refusal() -> None:
    class Only384(HashingEmbedder):
        name = "fixed-384"
        native_dimensions = 384

    sidecar = start_embedding_server(embedder=Only384())
    try:
        reply = run_embedding(sidecar.url, "@cf/baai/bge-large-en-v1.5", ["x"])
        error = str(reply["error"])
        assert error.startswith("EdgestackLocalAiError: cannot run @cf/baai/bge-large-en-v1.5: ")
        assert "gives 1024-dimensional embeddings, but the local embedder fixed-384 gives 384" in error
    finally:
        sidecar.stop()
