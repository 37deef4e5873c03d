"""RAG quality and speed: recall@5, MRR@10 and nDCG@10 per retrieval setup, ingestion throughput,
query latency.

Two corpora, both installed (no download), each with questions written for this benchmark, one
known relevant document each; `check_questions` verifies that no question copies 8 consecutive
words of its document:
- CPython's own documentation: every `pydoc_data.topics` entry and the docstrings of the stdlib
  modules listed in bench/data/rag_questions.json (173 documents, 164 questions);
- Hypothesis's strategy docstrings (`hypothesis.strategies.__all__`, a dev dependency pinned in
  constraints.txt), bench/data/rag_questions_hypothesis.json (45 questions).

Quality runs the Worker's RAG core in-process on CPython (app.rag: chunking, the FTS5 keyword index on
SQLite, the Vectorize fake with exact search, fusion, reranking) for vector, keyword, hybrid (rrf, max)
and hybrid + rerank, with the embedder `edgestack dev` uses by default (all-MiniLM-L6-v2 in numpy
when installed) and with the hashing floor. The reranker is the local stand-in the AI binding serves
(infra/dev/embeddings.py). Speed runs on the real local runtime (`edgestack dev`, default embedder), the second corpus:
every document PUT over HTTP, then /v1/rag/search (rerank off and on) and /v1/rag/query latencies,
with GET /healthz in the same run as the baseline.

    .venv/bin/python bench/rag.py [--write] [--skip-runtime]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
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
SECOND_DATA = REPO / "bench" / "data" / "rag_questions_hypothesis.json"
MODES = ("vector", "keyword", "hybrid")
TENANT = "bench"
RUNTIME_CORPUS = "hypothesis"  # small: the local model embeds ~6 chunks/s of CPU
# (label, mode, fusion method, rerank): what the quality tables report.
CONFIGS = (
    ("vector", "vector", "max", False),
    ("keyword", "keyword", "max", False),
    ("hybrid (rrf)", "hybrid", "rrf", False),
    ("hybrid (max, the default)", "hybrid", "max", False),
    ("hybrid (max) + rerank", "hybrid", "max", True),
)
DEFAULT_HYBRID = "hybrid (max, the default)"


def load_corpus(labelled: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """doc id -> (title, text)."""
    from pydoc_data.topics import topics

    docs = {f"topic/{name}": (name, text) for name, text in topics.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated modules (aifc, cgi, ...) warn on import
        for name in labelled["corpus"]["modules"]:
            docs[f"module/{name}"] = (name, importlib.import_module(name).__doc__ or "")
    return docs


def load_hypothesis_corpus(labelled: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """doc id -> (title, text): the docstring of every public callable of hypothesis.strategies."""
    import inspect

    import hypothesis
    import hypothesis.strategies as strategies

    if hypothesis.__version__ != labelled["corpus"]["version"]:
        print(f"note: the second set was written against Hypothesis {labelled['corpus']['version']}", file=sys.stderr)
    docs = {}
    for name in strategies.__all__:
        value = getattr(strategies, name)
        doc = inspect.getdoc(value) if callable(value) else None
        if doc:
            docs[f"strategy/{name}"] = (name, doc)
    return docs


def check_questions(labelled: dict[str, Any], docs: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """(question, doc id) pairs; raises if a document is missing or a question copies its document."""
    pairs = []
    for item in labelled["questions"]:
        doc_id = item["document"].replace(":", "/", 1)
        if doc_id not in docs:
            raise SystemExit(f"labelled set names {item['document']!r}, which is not in the corpus")
        words = re.findall(r"\w+", item["question"].lower())
        text = " ".join(re.findall(r"\w+", docs[doc_id][1].lower()))
        for i in range(len(words) - 7):
            if " ".join(words[i : i + 8]) in text:
                raise SystemExit(f"question copies its document: {item['question']!r}")
        pairs.append((item["question"], doc_id))
    return pairs


class _Ai:
    """Workers AI in-process: embeddings from the local embedder, and the reranker the local AI
    binding serves (the sidecar's cosine stand-in, infra/dev/embeddings.py), cached per text."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self._vectors: dict[str, list[float]] = {}

    def _embed(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.embedder.embed(missing, 384), strict=True))
        return [self._vectors[t] for t in texts]

    async def run(self, model: str, inputs: dict[str, Any]) -> Any:
        if "contexts" in inputs:
            query, *texts = self._embed([inputs["query"], *(c["text"] for c in inputs["contexts"])])
            scores = [sum(a * b for a, b in zip(query, t, strict=True)) for t in texts]
            ranked = sorted(enumerate(scores), key=lambda pair: -pair[1])[: inputs.get("top_k")]
            return {"response": [{"id": i, "score": score} for i, score in ranked]}
        data = self._embed(list(inputs["text"]))
        return {"shape": [len(data), 384], "data": data}


def _ranks(hits: list[Any], relevant: str) -> int | None:
    ranking = list(dict.fromkeys(h.doc_id for h in hits))
    return ranking.index(relevant) + 1 if relevant in ranking else None


def scores_of(ranks: list[int | None]) -> dict[str, float]:
    """recall@5, MRR@10 and nDCG@10 (one relevant document per question)."""
    n = len(ranks)
    return {
        "recall@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        "ndcg@10": sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= 10) / n,
    }


async def quality(
    docs: dict[str, tuple[str, str]], pairs: list[tuple[str, str]], embedder: Any
) -> dict[str, Any]:
    from dataclasses import replace

    from app.rag.config import Fusion, parse_rag_config
    from app.rag.corpus import Corpus
    from app.rag.ingest import put_document
    from app.rag.retrieval import check_search, search
    from harness.bindings import SqliteD1
    from harness.rag_bindings import FakeR2, FakeVectorize

    from infra.spec import RagSpec

    keyword_migrations = sorted((REPO / "stacks" / "migrations" / "keywords").glob("*.sql"))

    async def no_sleep(_: float) -> None:
        return None

    corpus = Corpus(
        config=parse_rag_config(
            RagSpec(
                documents_binding="DOCS", index_binding="VECTORS", generation="extractive", top_k=10
            ).model_dump(mode="json", by_alias=True)
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
    for label, mode, method, rerank in CONFIGS:
        configured = replace(corpus, config=corpus.config._replace(fusion=Fusion(method, 1.0, 1.0)))
        ranks = []
        for question, relevant in pairs:
            request = check_search(configured, question, 10, mode, None, rerank=rerank)
            ranks.append(_ranks(await search(configured, TENANT, request), relevant))
        out[label] = scores_of(ranks)
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
            client = httpx.Client(base_url=base, timeout=600)  # the local model embeds on the CPU
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

    def searches(body: dict[str, Any], count: int = len(questions)) -> list[float]:
        return [
            _timed(lambda q=q: client.post("/v1/rag/search", json={"query": q, "top_k": 5, **body}))[0]
            for q in questions[:count]
        ]

    for mode in MODES:
        results[f"search {mode}"] = searches({"mode": mode})
    # The local reranker embeds each of the 20 candidates on the CPU: fewer questions.
    results["search hybrid + rerank (20 questions)"] = searches({"mode": "hybrid", "rerank": True}, 20)
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
        "questions": len(questions),
        "latency": {
            name: {
                "p50": statistics.median(v),
                "p95": _percentile(v, 0.95),
                "x_healthz": statistics.median(v) / base,
            }
            for name, v in results.items()
        },
    }


def _quality_table(q: dict[str, Any]) -> list[str]:
    lines = ["| retrieval | recall@5 | MRR@10 | nDCG@10 |", "|---|---|---|---|"]
    for label, *_ in CONFIGS:
        m = q[label]
        lines.append(f"| {label} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | {m['ndcg@10']:.3f} |")
    return lines


def _verdicts(q: dict[str, Any]) -> str:
    best_single = max(q["vector"]["mrr@10"], q["keyword"]["mrr@10"])
    hybrid = q[DEFAULT_HYBRID]["mrr@10"]
    reranked = q["hybrid (max) + rerank"]["mrr@10"]
    return (
        f"Hybrid (max, the default) MRR@10 {hybrid:.3f} vs best single mode {best_single:.3f}: "
        + ("at or above" if hybrid >= best_single else "**below**")
        + f"; hybrid + rerank {reranked:.3f}: "
        + ("at or above hybrid." if reranked >= hybrid else "**below** hybrid.")
    )


def report(results: dict[str, dict[str, Any]], rt: dict[str, Any] | None, corpora: dict[str, str]) -> str:
    lines = [
        "## rag",
        "",
        f"`bench/rag.py` on {platform.python_implementation()} {platform.python_version()}, {platform.machine()}. "
        "Quality runs the RAG core in-process (chunking, the FTS5 keyword index on SQLite, exact vector "
        "search, fusion, the reranker the local AI binding serves); a question's rank is the position of "
        "its document among the distinct documents of the top-10 chunks. Reranking uses the local "
        "stand-in (cosine similarity of the embedder, not bge-reranker-base's cross-encoder).",
    ]
    for key, results_by_embedder in results.items():
        lines += ["", f"### {corpora[key]}"]
        for embedder, q in results_by_embedder.items():
            floor = " (the floor: it matches words, it knows no meaning)" if "hashing" in embedder else ""
            lines += [
                "",
                f"Embedder **{embedder}**{floor}; {q['documents']} documents, {q['chunks']} chunks, "
                f"{q['questions']} questions; ingestion in-process {q['ingest_chunks_per_s']:.1f} chunks/s.",
                "",
                *_quality_table(q),
                "",
                _verdicts(q),
            ]
    if rt:
        lines += [
            "",
            f"On the local runtime (`edgestack dev` with its default embedder **{rt['embedder']}**, Pyodide in "
            "workerd, Miniflare D1/R2/KV, local Vectorize, embedding sidecar), the second corpus: ingestion "
            f"over HTTP {rt['ingest_chunks_per_s']:.1f} chunks/s ({rt['chunks']} chunks); latency over its "
            f"{rt['questions']} questions (20 with rerank), sequential, with GET /healthz in the same run as the baseline:",
            "",
            "| request | p50 ms | p95 ms | p50 / healthz p50 |",
            "|---|---|---|---|",
        ]
        for name, v in rt["latency"].items():
            lines.append(f"| {name} | {v['p50']:.1f} | {v['p95']:.1f} | {v['x_healthz']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    from infra.dev.embedders import HashingEmbedder, choose_embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--skip-runtime", action="store_true", help="quality only (no edgestack dev)")
    args = parser.parse_args()
    labelled = json.loads(DATA.read_text())
    if not platform.python_version().startswith(labelled["corpus"]["python"]):
        print(f"note: the labelled set was written against CPython {labelled['corpus']['python']}", file=sys.stderr)
    second = json.loads(SECOND_DATA.read_text())
    corpora = {
        "cpython": (load_corpus(labelled), labelled),
        "hypothesis": (load_hypothesis_corpus(second), second),
    }
    titles = {
        "cpython": "CPython 3.11 documentation (`pydoc_data.topics` + 94 stdlib module docstrings, PSF licence; "
        "bench/data/rag_questions.json)",
        "hypothesis": f"Hypothesis {second['corpus']['version']} strategy docstrings (MPL 2.0; "
        "bench/data/rag_questions_hypothesis.json)",
    }
    default = choose_embedder().embedder
    embedders = {default.name: default, HashingEmbedder.name: HashingEmbedder()}
    results: dict[str, dict[str, Any]] = {}
    for key, (docs, labels) in corpora.items():
        pairs = check_questions(labels, docs)
        results[key] = {}
        for name, embedder in embedders.items():
            q = asyncio.run(quality(docs, pairs, embedder))
            q["questions"] = len(pairs)
            results[key][name] = q
            print(key, name, json.dumps(q), flush=True)
    rt = None
    if not args.skip_runtime:
        docs, labels = corpora[RUNTIME_CORPUS]
        rt = {**runtime_latency(docs, check_questions(labels, docs)), "embedder": default.name}
        print(json.dumps(rt, indent=1))
    text = report(results, rt, titles)
    print(text)
    if args.write:
        write_section("## rag", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
