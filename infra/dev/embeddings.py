"""Embedding sidecar for `edgestack dev`: a small HTTP server on 127.0.0.1 that the local
Workers AI binding (runtime/bindings/ai.mjs) calls for embedding models.

It serves one of the embedders of infra/dev/embedders.py (the real all-MiniLM-L6-v2 model when the
`embeddings` extra is installed, else the deterministic hashing embedder).

A Workers AI model is only served by the real model when their dimensions match
(`@cf/baai/bge-small-en-v1.5`, 384); any other size is refused with a 400, never resized.

    POST /embed   {"model": str, "texts": [str, ...], "dimensions": int}
               -> {"embedder": str, "dimensions": int, "vectors": [[float, ...], ...]}
    POST /rerank  {"model": "@cf/baai/bge-reranker-base", "query": str, "texts": [str, ...]}
               -> {"reranker": str, "scores": [float, ...]}  (one per text, in order)
    POST /markdown {"name": str, "mimeType": str, "data": base64}
               -> Workers AI's ConversionResult (infra/dev/markdown.py), for `AI.toMarkdown`

The reranker is a stand-in: no registry package ships bge-reranker-base (or another cross-encoder)
weights, so /rerank scores each text by the embedder's cosine similarity to the query. It keeps the
Workers AI shape and the order a bi-encoder gives, not the cross-encoder's scores.
    GET  /healthz -> {"status": "ok", "embedder": str, "language_model": bool, "dimensions": int | null}
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .embedders import (
    EMBEDDER_ENV,
    HASHING_EMBEDDER_NAME,
    Embedder,
    EmbedderChoice,
    EmbeddingServerError,
    choose_embedder,
)

# Workers AI embedding models and their output dimensions (Cloudflare's model catalog).
WORKERS_AI_EMBEDDING_DIMENSIONS: dict[str, int] = {
    "@cf/baai/bge-small-en-v1.5": 384,
    "@cf/baai/bge-base-en-v1.5": 768,
    "@cf/baai/bge-large-en-v1.5": 1024,
}

MAX_TEXTS = 100  # Workers AI's maxItems for `text`
RERANKER_MODELS = ("@cf/baai/bge-reranker-base",)
RERANK_DIMENSIONS = 384  # what the hashing embedder uses for reranking
MAX_DIMENSIONS = 1536  # Vectorize's limit
MAX_BODY_BYTES = 64 * 1024 * 1024  # /markdown carries whole documents (base64)


class EmbeddingRequestError(ValueError):
    """A request the sidecar refuses; the message is sent to the client as the error."""


# ----------------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True)
class EmbedRequest:
    model: str
    texts: tuple[str, ...]
    dimensions: int


def parse_embed_request(payload: object) -> EmbedRequest:
    if not isinstance(payload, dict):
        raise EmbeddingRequestError("the request body must be a JSON object {model, texts, dimensions}")
    unknown = sorted(set(payload) - {"model", "texts", "dimensions"})
    if unknown:
        raise EmbeddingRequestError(f"unknown field(s): {', '.join(unknown)}")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise EmbeddingRequestError("model: must be a non-empty string")
    texts = payload.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise EmbeddingRequestError("texts: must be a list of strings")
    if not 1 <= len(texts) <= MAX_TEXTS:
        raise EmbeddingRequestError(f"texts: must hold 1 to {MAX_TEXTS} strings, got {len(texts)}")
    if any(t == "" for t in texts):
        raise EmbeddingRequestError("texts: strings must not be empty")
    dimensions = payload.get("dimensions")
    if (
        isinstance(dimensions, bool)
        or not isinstance(dimensions, int)
        or not 1 <= dimensions <= MAX_DIMENSIONS
    ):
        raise EmbeddingRequestError(
            f"dimensions: must be an integer from 1 to {MAX_DIMENSIONS}, got {dimensions!r}"
        )
    known = WORKERS_AI_EMBEDDING_DIMENSIONS.get(model)
    if known is not None and known != dimensions:
        raise EmbeddingRequestError(f"{model} has {known} dimensions, but the request asks for {dimensions}")
    return EmbedRequest(model, tuple(texts), dimensions)


@dataclass(frozen=True)
class RerankRequest:
    model: str
    query: str
    texts: tuple[str, ...]


def parse_rerank_request(payload: object) -> RerankRequest:
    if not isinstance(payload, dict):
        raise EmbeddingRequestError("the request body must be a JSON object {model, query, texts}")
    unknown = sorted(set(payload) - {"model", "query", "texts"})
    if unknown:
        raise EmbeddingRequestError(f"unknown field(s): {', '.join(unknown)}")
    model = payload.get("model")
    if model not in RERANKER_MODELS:
        raise EmbeddingRequestError(f"model: must be one of {', '.join(RERANKER_MODELS)}, got {model!r}")
    query, texts = payload.get("query"), payload.get("texts")
    if not isinstance(query, str) or not query:
        raise EmbeddingRequestError("query: must be a non-empty string")
    if not isinstance(texts, list) or not all(isinstance(t, str) and t for t in texts):
        raise EmbeddingRequestError("texts: must be a list of non-empty strings")
    if not 1 <= len(texts) <= MAX_TEXTS:
        raise EmbeddingRequestError(f"texts: must hold 1 to {MAX_TEXTS} strings, got {len(texts)}")
    return RerankRequest(model, query, tuple(texts))


def rerank_scores(embedder: Embedder, request: RerankRequest) -> list[float]:
    """The stand-in reranker: cosine similarity of each text to the query (vectors are normalized)."""
    dimensions = embedder.native_dimensions or RERANK_DIMENSIONS
    query, *texts = embedder.embed([request.query, *request.texts], dimensions)
    return [sum(a * b for a, b in zip(query, text, strict=True)) for text in texts]


def convert_request(payload: object) -> dict[str, Any]:
    """POST /markdown: one file (base64) to Workers AI's ConversionResult."""
    from .markdown import convert

    if not isinstance(payload, dict) or set(payload) != {"name", "mimeType", "data"}:
        raise EmbeddingRequestError("the request body must be a JSON object {name, mimeType, data}")
    name, mime_type, data = payload["name"], payload["mimeType"], payload["data"]
    if not all(isinstance(v, str) for v in (name, mime_type, data)) or not name:
        raise EmbeddingRequestError("name, mimeType and data (base64) must be strings")
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise EmbeddingRequestError(f"data: not base64: {exc}") from None
    return convert(name, mime_type, raw).public()


def dimension_mismatch(embedder: Embedder, model: str, dimensions: int) -> str | None:
    """The error for a model the embedder cannot stand in for, or None when it can."""
    native = embedder.native_dimensions
    if native is None or native == dimensions:
        return None
    same_size = [name for name, dims in WORKERS_AI_EMBEDDING_DIMENSIONS.items() if dims == native]
    instead = f" Use {' or '.join(same_size)} ({native} dimensions) in the stack," if same_size else ""
    return (
        f"{model} gives {dimensions}-dimensional embeddings, but the local embedder {embedder.name} gives "
        f"{native}; edgestack dev never resizes vectors.{instead} or set {EMBEDDER_ENV}=hashing to use the "
        f"{HASHING_EMBEDDER_NAME}."
    )


def embed(embedder: Embedder, request: EmbedRequest) -> list[list[float]]:
    mismatch = dimension_mismatch(embedder, request.model, request.dimensions)
    if mismatch is not None:
        raise EmbeddingRequestError(mismatch)
    return embedder.embed(request.texts, request.dimensions)


@dataclass(frozen=True)
class ModelMapping:
    """One row of the startup banner: how a Workers AI embedding model is served locally."""

    workers_ai_model: str
    dimensions: int
    served_by: str | None  # None: refused (dimensions differ)


def model_mappings(embedder: Embedder) -> list[ModelMapping]:
    return [
        ModelMapping(
            model, dims, embedder.name if dimension_mismatch(embedder, model, dims) is None else None
        )
        for model, dims in WORKERS_AI_EMBEDDING_DIMENSIONS.items()
    ]


# ----------------------------------------------------------------------------------------------
# HTTP server


class _EmbeddingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], embedder: Embedder) -> None:
        super().__init__(address, _Handler)
        self.embedder = embedder


class _Handler(BaseHTTPRequestHandler):
    server: _EmbeddingHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # the dev host logs requests; keep the sidecar quiet

    def _send_json(self, status: HTTPStatus, body: object) -> None:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send_json(status, {"error": message})

    def do_GET(self) -> None:
        if self.path != "/healthz":
            self._error(HTTPStatus.NOT_FOUND, f"no route GET {self.path}; try GET /healthz or POST /embed")
            return
        embedder = self.server.embedder
        self._send_json(
            HTTPStatus.OK,
            {
                "status": "ok",
                "embedder": embedder.name,
                "language_model": embedder.is_language_model,
                "dimensions": embedder.native_dimensions,
            },
        )

    def do_POST(self) -> None:
        if self.path not in ("/embed", "/rerank", "/markdown"):
            self._error(HTTPStatus.NOT_FOUND, f"no route POST {self.path}; try POST /embed, /rerank or /markdown")
            return
        length_header = self.headers.get("content-length")
        if length_header is None or not length_header.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "a content-length header is required")
            return
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is {length} bytes; the limit is {MAX_BODY_BYTES}",
            )
            return
        raw = self.rfile.read(length)
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}")
            return
        embedder = self.server.embedder
        answer: dict[str, Any]
        try:
            if self.path == "/markdown":
                answer = convert_request(payload)
            elif self.path == "/rerank":
                rerank_request = parse_rerank_request(payload)
                answer = {
                    "reranker": f"cosine similarity of {embedder.name} (stand-in)",
                    "scores": rerank_scores(embedder, rerank_request),
                }
            else:
                request = parse_embed_request(payload)
                vectors = embed(embedder, request)
                answer = {"embedder": embedder.name, "dimensions": request.dimensions, "vectors": vectors}
        except EmbeddingRequestError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        except Exception as exc:  # the model failed: report it, keep serving
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"embedding failed: {type(exc).__name__}: {exc}")
            return
        self._send_json(HTTPStatus.OK, answer)

    def _method_not_allowed(self) -> None:
        self._error(
            HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not supported; use GET /healthz or POST /embed"
        )

    do_PUT = do_DELETE = do_PATCH = _method_not_allowed


@dataclass(frozen=True)
class RunningEmbeddingServer:
    url: str  # http://127.0.0.1:PORT, for AI binding's `embeddingsUrl`
    embedder_name: str
    language_model: bool
    native_dimensions: int | None
    reason: str
    mappings: tuple[ModelMapping, ...]
    stop: Callable[[], None]


def start_embedding_server(
    host: str = "127.0.0.1", port: int = 0, embedder: Embedder | None = None
) -> RunningEmbeddingServer:
    """Starts the sidecar in a daemon thread and returns once it accepts connections.

    Without `embedder`, loads the real model if installed (a few seconds) or the hashing one."""
    choice = EmbedderChoice(embedder, "given by the caller") if embedder is not None else choose_embedder()
    try:
        server = _EmbeddingHTTPServer((host, port), choice.embedder)
    except OSError as exc:
        raise EmbeddingServerError(
            f"embedding sidecar cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="edgestack-embeddings", daemon=True
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return RunningEmbeddingServer(
        url=f"http://{bound_host!s}:{bound_port}",
        embedder_name=choice.embedder.name,
        language_model=choice.embedder.is_language_model,
        native_dimensions=choice.embedder.native_dimensions,
        reason=choice.reason,
        mappings=tuple(model_mappings(choice.embedder)),
        stop=stop,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m infra.dev.embeddings [--host H] [--port P] [--embedder auto|hashing]`: prints one
    JSON line {"url", "embedder"} once listening, then serves until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.dev.embeddings", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--embedder", choices=("auto", "hashing"), default=None)
    args = parser.parse_args(argv)
    try:
        choice = choose_embedder(args.embedder)
        running = start_embedding_server(args.host, args.port, choice.embedder)
    except EmbeddingServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"url": running.url, "embedder": running.embedder_name}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
