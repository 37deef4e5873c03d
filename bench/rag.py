"""RAG quality and speed: recall@5 and MRR@10 per retrieval mode, ingestion throughput, query latency.

Corpus: CPython's own documentation as installed (no download): every `pydoc_data.topics` entry
(the language reference topics behind `help()`) and the docstrings of the standard library modules
listed in bench/data/rag_questions.json, 173 documents. The questions in that file were written for
this benchmark, one known relevant document each; `check_questions` verifies that no question
copies 8 consecutive words of its document.

Quality runs the Worker's RAG core in-process on CPython (app.rag: chunking, the FTS5 keyword index on
SQLite, the Vectorize fake with exact search, RRF) with the embedder `edgestack dev` would use:
MiniLM when the `embeddings` extra is installed, else the hashing embedder (the floor; the report says
which ran). A question's rank is the position of its document among the distinct documents of the
top-10 chunks. Speed runs on the real local runtime (`edgestack dev`): every document PUT over HTTP,
then /v1/rag/search and /v1/rag/query latencies, with GET /healthz in the same run as the baseline.

    .venv/bin/python bench/rag.py [--write] [--skip-runtime]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import platform
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO / "worker_src", REPO / "tests", REPO):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from bench.benchdocs import write_section  # noqa: E402

DATA = REPO / "bench" / "data" / "rag_questions.json"
MODES = ("vector", "keyword", "hybrid")
TENANT = "bench"


def load_corpus(labelled: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """doc id -> (title, text)."""
    from pydoc_data.topics import topics

    docs = {f"topic/{name}": (name, text) for name, text in topics.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated modules (aifc, cgi, ...) warn on import
        for name in labelled["corpus"]["modules"]:
            docs[f"module/{name}"] = (name, importlib.import_module(name).__doc__ or "")
    return docs


def check_questions(labelled: dict[str, Any], docs: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """(question, doc id) pairs; raises if a document is missing or a question copies its document."""
    pairs = []
    for item in labelled["questions"]:
        doc_id = item["document"].replace(":", "/", 1)
        if doc_id not in docs:
            raise SystemExit(f"labelled set names {item['document']!r}, which this Python does not ship")
        words = re.findall(r"\w+", item["question"].lower())
        text = " ".join(re.findall(r"\w+", docs[doc_id][1].lower()))
        for i in range(len(words) - 7):
            if " ".join(words[i : i + 8]) in text:
                raise SystemExit(f"question copies its document: {item['question']!r}")
        pairs.append((item["question"], doc_id))
    return pairs


def embedder_name() -> tuple[str, Any]:
    from infra.dev.embedders import choose_embedder

    choice = choose_embedder()
    return choice.embedder.name, choice.embedder


class _Ai:
    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    async def run(self, model: str, inputs: dict[str, Any]) -> Any:
        data = self.embedder.embed(inputs["text"], 384)
        return {"shape": [len(data), 384], "data": data}


async def quality(
    docs: dict[str, tuple[str, str]], pairs: list[tuple[str, str]], embedder: Any
) -> dict[str, Any]:
    from app.rag.config import RagConfig
    from app.rag.corpus import Corpus
    from app.rag.ingest import put_document
    from app.rag.retrieval import check_search, search
    from harness.bindings import SqliteD1
    from harness.rag_bindings import FakeR2, FakeVectorize

    keyword_migrations = sorted((REPO / "stacks" / "migrations" / "keywords").glob("*.sql"))

    async def no_sleep(_: float) -> None:
        return None

    corpus = Corpus(
        config=RagConfig(
            documents_binding="DOCS", index_binding="VECTORS", generation="extractive", top_k=10
        ),
        bucket=FakeR2(),
        index=FakeVectorize({"tenant": "string"}),
        catalog=SqliteD1(),
        keywords=SqliteD1(keyword_migrations),
        ai=_Ai(embedder),
        sleep=no_sleep,
        clock=time.time,
        wait_until=lambda work: None,
    )
    started = time.perf_counter()
    chunks = 0
    for doc_id, (title, text) in docs.items():
        result = await put_document(corpus, TENANT, doc_id, text.encode(), "text/plain", title)
        chunks += result.chunks
    ingest_s = time.perf_counter() - started
    out: dict[str, Any] = {"documents": len(docs), "chunks": chunks, "ingest_chunks_per_s": chunks / ingest_s}
    for mode in MODES:
        recall, reciprocal = 0, 0.0
        for question, relevant in pairs:
            hits = await search(corpus, TENANT, check_search(corpus, question, 10, mode, None))
            ranking = list(dict.fromkeys(h.doc_id for h in hits))
            if relevant in ranking:
                rank = ranking.index(relevant) + 1
                recall += rank <= 5
                reciprocal += 1 / rank
        out[mode] = {"recall@5": recall / len(pairs), "mrr@10": reciprocal / len(pairs)}
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def runtime_latency(docs: dict[str, tuple[str, str]], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    import os

    import httpx
    from harness.target import DEFAULT_DEV_COMMAND, running_dev

    with tempfile.TemporaryDirectory(prefix="edgestack-rag-bench-") as tmp:
        stack = Path(tmp) / "local.yaml"
        stack.write_text((REPO / "stacks" / "local.yaml").read_text())
        (Path(tmp) / "migrations").symlink_to(REPO / "stacks" / "migrations")
        with running_dev(DEFAULT_DEV_COMMAND, stack, Path(tmp) / "state", os.environ) as (base, _):
            client = httpx.Client(base_url=base, timeout=60)
            try:
                return _measure(client, docs, pairs)
            finally:
                client.close()


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response


def _measure(client: Any, docs: dict[str, tuple[str, str]], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    started = time.perf_counter()
    chunks = 0
    for doc_id, (title, text) in docs.items():
        response = client.put(
            f"/v1/documents/{doc_id}",
            content=text.encode(),
            headers={"content-type": "text/plain", "x-edgestack-title": title},
        )
        response.raise_for_status()
        chunks += response.json()["chunks"]
    ingest_s = time.perf_counter() - started
    questions = [q for q, _ in pairs][:60]
    for _ in range(3):  # warm the isolate (first /v1 imports the gateway and RAG)
        client.post("/v1/rag/search", json={"query": "warm up"})
    health = [_timed(lambda: client.get("/healthz"))[0] for _ in range(60)]
    results: dict[str, list[float]] = {"healthz": health}
    for mode in MODES:
        results[f"search {mode}"] = [
            _timed(
                lambda q=q, m=mode: client.post("/v1/rag/search", json={"query": q, "mode": m, "top_k": 5})
            )[0]
            for q in questions
        ]
    results["query (FAQ miss, extractive)"] = [
        _timed(lambda q=q: client.post("/v1/rag/query", json={"question": q}))[0] for q in questions
    ]
    results["query (FAQ hit)"] = [
        _timed(lambda q=q: client.post("/v1/rag/query", json={"question": q}))[0] for q in questions
    ]
    base = statistics.median(health)
    return {
        "ingest_chunks_per_s": chunks / ingest_s,
        "chunks": chunks,
        "latency": {
            name: {
                "p50": statistics.median(v),
                "p95": _percentile(v, 0.95),
                "x_healthz": statistics.median(v) / base,
            }
            for name, v in results.items()
        },
    }


def report(q: dict[str, Any], rt: dict[str, Any] | None, embedder: str, n_questions: int) -> str:
    lines = [
        "## rag",
        "",
        f"`bench/rag.py` on {platform.python_implementation()} {platform.python_version()}, {platform.machine()}; "
        f"{q['documents']} documents (CPython 3.11's `pydoc_data.topics` and 94 stdlib module docstrings, PSF "
        f"licence), {q['chunks']} chunks (chunk_chars 1200, overlap 150), {n_questions} questions written for "
        "the benchmark (bench/data/rag_questions.json). Embedder: "
        f"**{embedder}**"
        + (" — the floor: it matches words, it knows no meaning." if "hashing" in embedder else "."),
        "",
        "Quality (RAG core in-process; rank = position of the relevant document among the distinct documents "
        "of the top-10 chunks):",
        "",
        "| mode | recall@5 | MRR@10 |",
        "|---|---|---|",
    ]
    for mode in MODES:
        lines.append(f"| {mode} | {q[mode]['recall@5']:.3f} | {q[mode]['mrr@10']:.3f} |")
    best_single = max(q["vector"]["mrr@10"], q["keyword"]["mrr@10"])
    verdict = (
        "Hybrid beats both single modes on MRR@10."
        if q["hybrid"]["mrr@10"] > best_single
        else "Hybrid does **not** beat the best single mode on MRR@10 in this run."
    )
    lines += [
        "",
        verdict,
        "",
        f"Ingestion in-process (CPython, SQLite, exact-search fake): "
        f"{q['ingest_chunks_per_s']:.0f} chunks/s.",
    ]
    if rt:
        lines += [
            "",
            f"On the local runtime (`edgestack dev`, Pyodide in workerd, Miniflare D1/R2/KV, local Vectorize, "
            f"embedding sidecar): ingestion over HTTP {rt['ingest_chunks_per_s']:.0f} chunks/s ({rt['chunks']} chunks); "
            "latency over 60 questions, sequential, with GET /healthz in the same run as the baseline:",
            "",
            "| request | p50 ms | p95 ms | p50 / healthz p50 |",
            "|---|---|---|---|",
        ]
        for name, v in rt["latency"].items():
            lines.append(f"| {name} | {v['p50']:.1f} | {v['p95']:.1f} | {v['x_healthz']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--skip-runtime", action="store_true", help="quality only (no edgestack dev)")
    args = parser.parse_args()
    labelled = json.loads(DATA.read_text())
    if not platform.python_version().startswith(labelled["corpus"]["python"]):
        print(
            f"note: the labelled set was written against CPython {labelled['corpus']['python']}",
            file=sys.stderr,
        )
    docs = load_corpus(labelled)
    pairs = check_questions(labelled, docs)
    name, embedder = embedder_name()
    q = asyncio.run(quality(docs, pairs, embedder))
    print(json.dumps(q, indent=1))
    rt = None if args.skip_runtime else runtime_latency(docs, pairs)
    if rt:
        print(json.dumps(rt, indent=1))
    text = report(q, rt, name, len(pairs))
    print(text)
    if args.write:
        write_section("## rag", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
