"""Fusion (rrf, max, weights), the relevance floor and reranking, on CPython with the binding fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from app.rag.config import Fusion
from app.rag.fusion import fuse
from harness.rag_bindings import HashingAi
from harness.rag_world import GeneratingAi, RagWorld
from hypothesis import given, settings
from hypothesis import strategies as st

RERANKER = "@cf/baai/bge-reranker-base"

# --- fusion properties ---------------------------------------------------------------------------

_items = st.sampled_from(list("abcdefgh"))


@st.composite
def _ranking(draw: Any) -> list[tuple[str, float]]:
    items = draw(st.lists(_items, unique=True, max_size=8))
    scores = sorted(draw(st.lists(st.floats(0.01, 50), min_size=len(items), max_size=len(items))), reverse=True)
    return list(zip(items, scores, strict=True))


_fusions = st.builds(
    Fusion,
    method=st.sampled_from(["rrf", "max"]),
    vector_weight=st.floats(0.01, 10),
    keyword_weight=st.floats(0.01, 10),
)


@settings(max_examples=400, deadline=None)
@given(vector=_ranking(), keyword=_ranking(), fusion=_fusions, top=_items)
def test_fusion_keeps_first_the_document_both_modes_put_first(
    vector: list[tuple[str, float]], keyword: list[tuple[str, float]], fusion: Fusion, top: str
) -> None:
    vector = [(top, (vector[0][1] if vector else 1.0) + 1)] + [p for p in vector if p[0] != top]
    keyword = [(top, (keyword[0][1] if keyword else 1.0) + 1)] + [p for p in keyword if p[0] != top]
    fused = fuse(vector, keyword, fusion)
    assert fused[0][0] == top
    assert {item for item, _ in fused} == {item for item, _ in vector + keyword}


@settings(max_examples=300, deadline=None)
@given(vector=_ranking(), keyword=_ranking(), method=st.sampled_from(["rrf", "max"]))
def test_weights_one_and_zero_give_exactly_one_mode(
    vector: list[tuple[str, float]], keyword: list[tuple[str, float]], method: str
) -> None:
    only_vector = fuse(vector, keyword, Fusion(method, 1.0, 0.0))  # type: ignore[arg-type]
    only_keyword = fuse(vector, keyword, Fusion(method, 0.0, 1.0))  # type: ignore[arg-type]
    assert [item for item, _ in only_vector] == [item for item, _ in vector]
    assert [item for item, _ in only_keyword] == [item for item, _ in keyword]


def test_max_fusion_takes_the_higher_weighted_normalized_score() -> None:
    vector = [("a", 0.8), ("b", 0.4)]
    keyword = [("b", 12.0), ("c", 3.0)]
    fused = dict(fuse(vector, keyword, Fusion("max", 1.0, 0.5)))
    # a: 0.8/0.8 = 1; b: max(0.4/0.8, 0.5 * 12/12) = 0.5; c: 0.5 * 3/12 = 0.125
    assert fused == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.125})


def test_rrf_weights_scale_each_mode() -> None:
    fused = dict(fuse([("a", 0.9), ("b", 0.1)], [("b", 5.0)], Fusion("rrf", 2.0, 1.0)))
    assert fused == pytest.approx({"a": 2 / 61, "b": 2 / 62 + 1 / 61})


# --- through the API ------------------------------------------------------------------------------

DOCS = {
    "kb/install.md": "# Install\n\nRun the installer on Linux with the package manager.",
    "kb/billing.md": "# Billing\n\nInvoices are sent monthly; the package price includes support.",
    "kb/backup.md": "# Backup\n\nSnapshots of the package database are kept for thirty days.",
}


def _world(**rag: Any) -> RagWorld:
    world = RagWorld(**rag)
    for doc_id, text in DOCS.items():
        assert world.request("PUT", f"/v1/documents/{doc_id}", text.encode(), content_type="text/markdown").status == 200
    return world


class ScriptedReranker(HashingAi):
    """Embeddings from the hashing embedder; `@cf/baai/bge-reranker-base` in its documented shape
    (`{query, contexts: [{text}], top_k?}` -> `{response: [{id, score}]}`, best first), scoring each
    context by the test's table of words."""

    def __init__(self, scores: dict[str, float], answer: Any = None) -> None:
        super().__init__()
        self.scores = scores
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    async def run(self, model: str, inputs: Any) -> Any:
        if model != RERANKER:
            return await super().run(model, inputs)
        assert set(inputs) <= {"query", "contexts", "top_k"} and isinstance(inputs["query"], str)
        assert all(set(c) == {"text"} and isinstance(c["text"], str) for c in inputs["contexts"])
        self.requests.append(inputs)
        if self.answer is not None:
            return self.answer
        scored = [
            {"id": i, "score": max([s for w, s in self.scores.items() if w in c["text"]], default=0.0)}
            for i, c in enumerate(inputs["contexts"])
        ]
        scored.sort(key=lambda item: -item["score"])
        return {"response": scored[: inputs.get("top_k", len(scored))]}


class _Answer:
    def __init__(self, response: Any) -> None:
        self.status = response.status
        self.body = json.loads(response.body)

    def json(self) -> Any:
        return self.body


def _search(world: RagWorld, **body: Any) -> _Answer:
    return _Answer(world.request("POST", "/v1/rag/search", {"query": "package", **body}))


def test_rerank_orders_the_fused_candidates_by_the_cross_encoder() -> None:
    world = _world(rerank={"enabled": True, "top_n": 10})
    world.ai = ScriptedReranker({"Snapshots": 0.9, "Invoices": 0.5, "installer": 0.1})
    response = _search(world, top_k=2)
    assert response.status == 200, response.json()
    hits = response.json()["data"]
    assert [h["doc_id"] for h in hits] == ["kb/backup.md", "kb/billing.md"]
    assert [h["score"] for h in hits] == [0.9, 0.5]
    [sent] = world.ai.requests
    assert sent["query"] == "package" and sent["top_k"] == 2 and len(sent["contexts"]) == 3


def test_rerank_is_off_by_default() -> None:
    world = _world()
    world.ai = ScriptedReranker({"Snapshots": 0.9})
    assert _search(world).status == 200
    assert world.ai.requests == []


@pytest.mark.parametrize(
    "answer",
    [{"response": [{"id": 7, "score": 0.5}]}, {"result": []}, {"response": [{"id": 0, "score": "high"}]}],
)
def test_a_reranker_answer_of_another_shape_is_a_502(answer: Any) -> None:
    world = _world(rerank={"enabled": True, "top_n": 10})
    world.ai = ScriptedReranker({}, answer=answer)
    response = _search(world)
    assert response.status == 502
    assert "reranking failed: @cf/baai/bge-reranker-base" in response.json()["error"]["message"]


def test_top_k_over_rerank_top_n_is_a_400() -> None:
    world = _world(rerank={"enabled": True, "top_n": 5})
    response = _search(world, top_k=6)
    assert response.status == 400
    error = response.json()["error"]
    assert error["param"] == "top_k" and "rag.rerank.top_n (5)" in error["message"]


def test_min_score_drops_hits_below_the_mode_floor() -> None:
    world = _world()
    scores = [h["score"] for h in _search(world, mode="keyword").json()["data"]]
    assert len(scores) == 3
    floor = sorted(scores)[1]  # keeps the two best
    world = _world(min_score={"keyword": floor})
    kept = _search(world, mode="keyword").json()["data"]
    assert [h["score"] for h in kept] == sorted(scores, reverse=True)[:2]
    assert len(_search(world, mode="vector").json()["data"]) == 3  # other modes have no floor


def test_weights_one_zero_make_hybrid_answer_like_keyword() -> None:
    world = _world(fusion={"method": "rrf", "vector_weight": 0, "keyword_weight": 1})
    hybrid = [h["doc_id"] for h in _search(world, mode="hybrid", query="thirty days snapshots").json()["data"]]
    keyword = [h["doc_id"] for h in _search(world, mode="keyword", query="thirty days snapshots").json()["data"]]
    assert hybrid == keyword == ["kb/backup.md"]


# --- stack file validation ------------------------------------------------------------------------


def _validate(tmp_path: Path, rag: dict[str, Any]) -> str:
    from infra.stackfile.diagnostics import StackError
    from infra.stackfile.load import load_stack

    repo = Path(__file__).resolve().parents[2]
    stack = yaml.safe_load((repo / "stacks" / "local.yaml").read_text())
    stack["rag"].update(rag)
    (tmp_path / "migrations").symlink_to(repo / "stacks" / "migrations")
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    with pytest.raises(StackError) as caught:
        load_stack(path)
    return str(caught.value)


@pytest.mark.parametrize(
    ("rag", "expected"),
    [
        ({"fusion": {"method": "average"}}, "rag.fusion.method: expected 'rrf' or 'max', got 'average'"),
        ({"fusion": {"vector_weight": -1}}, "rag.fusion.vector_weight:"),
        ({"fusion": {"vector_weight": 0, "keyword_weight": 0}}, "cannot both be 0"),
        ({"rerank": {"enabled": True, "top_n": 41}}, "rerank.top_n (41) is over the fused set size: mode hybrid"),
        ({"mode": "keyword", "rerank": {"enabled": True, "top_n": 21}}, "retrieves at most 20 candidates"),
        ({"rewrite_query": {"enabled": True}}, "enabled needs alias"),
        ({"rewrite_query": {"enabled": True, "alias": "nope"}}, "rag.rewrite_query.alias: unknown model alias 'nope'"),
    ],
)
def test_bad_ranking_settings_are_one_line_errors(tmp_path: Path, rag: dict[str, Any], expected: str) -> None:
    message = _validate(tmp_path, rag)
    assert expected in message, message
    assert "stack.yaml:" in message and "Traceback" not in message


# --- query rewriting ------------------------------------------------------------------------------


class RewritingAi(GeneratingAi):
    """Text generation that rewrites (when the system prompt asks to) or answers."""

    async def run(self, model: str, inputs: Any) -> Any:
        messages = inputs.get("messages") if isinstance(inputs, dict) else None
        if messages and "search query" in messages[0]["content"]:
            self.prompts.append(list(messages))
            return {"response": "snapshots thirty days", "usage": {"prompt_tokens": 9, "completion_tokens": 3}}
        return await super().run(model, inputs)


def test_the_question_is_rewritten_through_the_gateway_before_retrieval() -> None:
    world = _world(llm=True, rewrite_query={"enabled": True, "alias": "rag-llm"})
    world.ai = RewritingAi()
    response = _search(world, query="how long are backups kept?", mode="keyword")
    assert response.status == 200, response.json()
    assert response.json()["rewritten_query"] == "snapshots thirty days"
    assert [h["doc_id"] for h in response.json()["data"]] == ["kb/backup.md"]
    [rewrite_prompt] = world.ai.prompts
    assert rewrite_prompt[1] == {"role": "user", "content": "how long are backups kept?"}

    answer = _Answer(world.request("POST", "/v1/rag/query", {"question": "how long are backups kept?"}))
    assert answer.status == 200 and answer.json()["rewritten_query"] == "snapshots thirty days"
    assert answer.json()["citations"][0]["doc_id"] == "kb/backup.md"


def test_rewriting_is_off_by_default() -> None:
    world = _world(llm=True)
    world.ai = RewritingAi()
    response = _search(world, query="how long are backups kept?")
    assert "rewritten_query" not in response.json() and world.ai.prompts == []


# --- built-in metadata ----------------------------------------------------------------------------


def test_every_chunk_carries_folder_filename_and_updated_at_and_they_filter() -> None:
    world = RagWorld(
        filter_keys=["folder", "filename", "updated_at"],
        indexes={"folder": "string", "filename": "string", "updated_at": "number"},
    )
    world.clock.now = 1_767_225_600.25  # 2026-01-01T00:00:00.250Z
    for doc_id in ("guides/setup/linux.md", "guides/billing.md", "top.md"):
        put = world.request("PUT", f"/v1/documents/{doc_id}", b"# Setup\n\nThe package installs on Linux.")
        assert put.status == 200, put.body
    [vector] = [v for v in world.vectors.vectors.values() if v.metadata["doc_id"] == "guides/setup/linux.md"]
    assert {k: vector.metadata[k] for k in ("folder", "filename", "updated_at")} == {
        "folder": "guides/setup/",
        "filename": "linux.md",
        "updated_at": 1_767_225_600,
    }
    for mode in ("vector", "keyword", "hybrid"):
        for where, expected in (
            ({"folder": "guides/setup/"}, ["guides/setup/linux.md"]),
            ({"folder": ""}, ["top.md"]),
            ({"filename": {"$in": ["billing.md", "top.md"]}}, ["guides/billing.md", "top.md"]),
            ({"updated_at": {"$ne": 1_767_225_600}}, []),
        ):
            found = _search(world, mode=mode, filter=where).json()["data"]
            assert sorted(h["doc_id"] for h in found) == expected, (mode, where)


def test_built_in_metadata_keys_are_reserved_in_a_documents_own_metadata() -> None:
    world = RagWorld()
    body = {"text": "hello", "metadata": {"folder": "elsewhere/"}}
    response = _Answer(world.request("PUT", "/v1/documents/a.md", body))
    assert response.status == 400 and response.json()["error"]["param"] == "metadata.folder"


def test_a_request_may_turn_reranking_on_or_off() -> None:
    world = _world(rerank={"enabled": False, "top_n": 10})
    world.ai = ScriptedReranker({"Snapshots": 0.9})
    assert _search(world, rerank=True).json()["data"][0]["doc_id"] == "kb/backup.md"
    assert len(world.ai.requests) == 1
    assert _search(world, rerank=False).status == 200 and len(world.ai.requests) == 1
    bad = _search(world, rerank="yes")
    assert bad.status == 400 and bad.json()["error"]["param"] == "rerank"
