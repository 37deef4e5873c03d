"""Unit properties of RAG's pure parts: chunking, reciprocal rank fusion, filters, ids, FAQ keys."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from app.rag.chunking import MAX_EMBED_TOKENS, chunk_document, token_estimate
from app.rag.config import Fusion
from app.rag.faq import cache_key, normalize_question
from app.rag.filters import Filter, parse_filter
from app.rag.fusion import fuse
from app.rag.ids import MAX_VECTOR_ID_BYTES, check_doc_id, namespace, vector_id
from app.web.errors import ApiError
from hypothesis import given, settings
from hypothesis import strategies as st

_blocks = st.lists(
    st.one_of(
        st.text(alphabet="abcdefghij .!?\n", min_size=0, max_size=300),
        st.builds(
            lambda n, t: "#" * n + " " + t + "\n",
            st.integers(1, 4),
            st.text(alphabet="abc ", min_size=1, max_size=20),
        ),
        st.just("\n\n"),
        st.text(min_size=0, max_size=80),  # any unicode
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(blocks=_blocks, chunk_chars=st.integers(20, 600), overlap_share=st.floats(0, 0.49))
def test_chunks_cover_every_character_and_overlaps_are_bounded(blocks, chunk_chars, overlap_share) -> None:
    text = "".join(blocks)
    overlap = min(int(chunk_chars * overlap_share), chunk_chars // 2 - 1)
    chunks = chunk_document(text, chunk_chars, overlap)
    covered = [False] * len(text)
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end] and chunk.text.strip()
        assert len(chunk.text) <= chunk_chars
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start >= before.start
        assert before.end - after.start <= overlap  # overlap bounded (negative: a gap of whitespace)
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_heading_paths_follow_markdown_nesting() -> None:
    text = "# Install\n\nIntro.\n\n## Linux\n\nUse apt.\n\n### Debian\n\nUse apt-get.\n\n## Mac\n\nUse brew.\n\n# Usage\n\nRun it.\n"
    headings = [c.heading for c in chunk_document(text, 200, 0)]
    assert headings == ["Install", "Install > Linux", "Install > Linux > Debian", "Install > Mac", "Usage"]


def test_token_dense_text_is_split_under_the_model_limit() -> None:
    code = "x=f(a[1],b[2]);" * 200  # punctuation-heavy: ~3000 chars
    chunks = chunk_document(code, 2000, 100)
    assert len(chunks) > 1 and all(token_estimate(c.embedding_text("t")) <= MAX_EMBED_TOKENS for c in chunks)


def _ranked(items: list[str]) -> list[tuple[str, float]]:
    return [(item, 1.0 / (n + 1)) for n, item in enumerate(items)]


def rrf_fuse(rankings: list[list[str]]) -> list[tuple[str, float]]:
    return fuse(_ranked(rankings[0]), _ranked(rankings[1]), Fusion("rrf", 1.0, 1.0))


def test_rrf_rewards_agreement_between_rankings() -> None:
    fused = rrf_fuse([["a", "b", "c"], ["c", "b", "d"]])
    assert [item for item, _ in fused][:2] == ["b", "c"] or [item for item, _ in fused][:2] == ["c", "b"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(2 / 62) and scores["a"] == pytest.approx(1 / 61)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61) and scores["c"] > scores["b"] > scores["a"]
    assert rrf_fuse([[], []]) == [] and [i for i, _ in rrf_fuse([["x", "y"], []])] == ["x", "y"]


_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "1"]))


@settings(max_examples=300, deadline=None)
@given(
    metadata=st.dictionaries(st.sampled_from(["k", "j"]), _values, max_size=2),
    op=st.sampled_from(["$eq", "$ne", "$in", "$nin"]),
    operand=st.lists(_values, min_size=1, max_size=3),
)
def test_sql_filter_agrees_with_the_python_filter(metadata, op, operand) -> None:
    spec = {"k": {op: operand if op in ("$in", "$nin") else operand[0]}}
    where = parse_filter(spec, {"k", "j"})
    sql, params = where.to_sql("m")
    conn = sqlite3.connect(":memory:")
    row = conn.execute(
        f"SELECT 1 FROM (SELECT ? AS m) WHERE 1{sql}", [json.dumps(metadata), *params]
    ).fetchall()
    assert bool(row) == where.matches(metadata)


def test_filter_goes_to_vectorize_with_the_tenant() -> None:
    where = parse_filter({"k": "a", "j": {"$nin": [1, 2]}}, {"k", "j"})
    assert where.to_vectorize("acme") == {"tenant": {"$eq": "acme"}, "k": {"$eq": "a"}, "j": {"$nin": [1, 2]}}
    assert Filter().to_vectorize("t") == {"tenant": {"$eq": "t"}}


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ({"k": {"$regex": "a"}}, "filter.k.$regex"),
        ({"k": {"$eq": 1, "$ne": 2}}, "filter.k"),
        ({"k": {"$in": []}}, "filter.k.$in"),
        ({"k": {"$eq": [1]}}, "filter.k.$eq"),
        ({"zz": 1}, "filter.zz"),
        ([1], "filter"),
    ],
)
def test_bad_filters_name_the_field(raw, param) -> None:
    with pytest.raises(ApiError) as caught:
        parse_filter(raw, {"k"})
    assert caught.value.status == 400 and caught.value.param == param


def test_ids_namespaces_and_vector_ids_fit_vectorize_limits() -> None:
    long_id = "a/" * 127 + "b"
    assert check_doc_id(long_id) == long_id
    assert len(vector_id("t" * 500, long_id, 99999).encode()) <= MAX_VECTOR_ID_BYTES
    assert namespace("acme") == "acme" and len(namespace("x" * 100).encode()) <= 64
    assert vector_id("a", "b", 0) != vector_id("a", "c", 0) != vector_id("b", "b", 0)
    for bad in ("", "../x", "a b", "a\\b", "é"):
        with pytest.raises(ApiError):
            check_doc_id(bad)


def test_faq_key_depends_on_tenant_question_version_and_options() -> None:
    base = cache_key("acme", "What is X?", 3, {"mode": "hybrid"})
    assert base == cache_key("acme", "  what is x ", 3, {"mode": "hybrid"})
    assert normalize_question("Hello   World?!") == "hello world"
    assert (
        len(
            {
                base,
                cache_key("globex", "What is X?", 3, {"mode": "hybrid"}),
                cache_key("acme", "What is X?", 4, {"mode": "hybrid"}),
                cache_key("acme", "What is X?", 3, {"mode": "keyword"}),
            }
        )
        == 4
    )


def test_rag_package_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys; sys.path.insert(0, 'worker_src'); import app.rag; print(sorted(m for m in sys.modules if m.startswith('app.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['app.rag']"


def test_filter_sql_is_used_by_keyword_search_on_real_fts5() -> None:
    from app.rag import keyword
    from app.rag.chunking import chunk_document
    from harness.bindings import SqliteD1
    from harness.rag_world import KEYWORD_MIGRATIONS

    db = SqliteD1(KEYWORD_MIGRATIONS)
    chunks = chunk_document("Otters hold hands while sleeping.", 200)
    asyncio.run(db.batch(keyword.replace_statements("t", "d1", "", chunks, {"k": "a"})))
    asyncio.run(db.batch(keyword.replace_statements("t", "d2", "", chunks, {"k": "b"})))
    asyncio.run(db.batch(keyword.replace_statements("u", "d3", "", chunks, {"k": "a"})))
    hits = asyncio.run(keyword.search(db, "t", "sleeping otters", 10, parse_filter({"k": "a"}, {"k"})))
    assert [h.doc_id for h in hits] == ["d1"] and hits[0].score > 0
    assert keyword.match_expression("what is the") == '"what" OR "is" OR "the"'
    assert keyword.match_expression("'\"; DROP TABLE x --") == '"drop" OR "table" OR "x"'


def test_extractive_answers_skip_code_blocks_and_cite_their_source() -> None:
    from app.rag.answer import extractive_answer
    from app.rag.retrieval import SearchHit

    hits = [
        SearchHit(
            "a",
            0,
            1.0,
            "",
            "Intro.\n\n```sh\nrun the tests with pytest now\n```\n\nRun the tests with scripts/test.",
        ),
        SearchHit("b", 0, 0.5, "", "Unrelated words about boats and harbours."),
    ]
    answer = extractive_answer("How do I run the tests?", hits)
    assert answer.text == "Run the tests with scripts/test. [1]" and answer.model == "extractive"
    assert [h.doc_id for h in answer.citations] == ["a", "b"]
    assert extractive_answer("anything", []).citations == ()


def test_extractive_answers_skip_a_code_block_cut_by_the_chunk_edge_and_command_lines() -> None:
    from app.rag.answer import extractive_answer
    from app.rag.retrieval import SearchHit

    # The chunk starts inside a fence (its first fence closes it) and ends inside another one.
    text = (
        "curl localhost:8787/v1/rag/query -d '{\"question\": \"How do I run the tests?\"}'\n   ```\n\n"
        "2. Set up and run the tests (lint, type check, unit tests):\n\n   ```sh\n   scripts/test\n   ```\n\n"
        "$ python -m pytest tests to run the tests one by one\n"
        "Tests run in CI too.\n\n```sh\nrun the tests quickly here"
    )
    hits = [SearchHit("readme", 3, 1.0, "", text)]
    answer = extractive_answer("How do I run the tests?", hits)
    assert answer.text == "Set up and run the tests (lint, type check, unit tests): [1] Tests run in CI too. [1]"
    twice = extractive_answer("How do I run the tests?", [hits[0], hits[0]._replace(chunk=4)])
    assert twice.text == answer.text  # overlapping chunks: each sentence once
    asked_for_code = extractive_answer("Which command runs the tests?", hits)
    assert "scripts/test" in asked_for_code.text or "pytest" in asked_for_code.text


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Intro line\n\n## Setup ##\n\n# Later", "Setup"),
        ("```\n# not a heading\n```\n# Real title\n", "Real title"),
        ("#hashtag is no heading\nplain", ""),
    ],
)
def test_markdown_documents_default_their_title_to_the_first_heading(text: str, title: str) -> None:
    from app.rag.textio import parse_document

    assert parse_document(text.encode(), "text/markdown").title == title
    assert parse_document(text.encode(), "text/markdown", "Given").title == "Given"
    assert parse_document(text.encode(), "text/plain").title == ""
