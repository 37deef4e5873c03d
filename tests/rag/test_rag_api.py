"""RAG through the Worker's `/v1` routes on CPython (the world: tests/harness/rag_world.py)."""

from __future__ import annotations

import json

import pytest
from harness.rag_world import OTHER, READER, WRITER, RagWorld

GUIDE = """# Install

Edgestack runs on Python 3.11 or newer.

## Linux

Install the package with pip, then run the setup script. The setup script creates a virtual
environment and downloads the pinned Node packages.

## Windows

Windows is not supported; use WSL2 instead.

# Usage

Start the local runtime with edgestack dev and open port 8787 in a browser.
"""


def test_put_get_search_query_with_citations(world: RagWorld) -> None:
    status, body = world.put(
        "guides/install.md",
        GUIDE,
        headers={"x-edgestack-title": "Install guide"},
        content_type="text/markdown",
    )
    assert status == 200 and body["status"] == "ready" and body["chunks"] >= 3 and len(body["sha256"]) == 64
    status, meta = world.json("GET", "/v1/documents/guides/install.md")
    assert status == 200 and meta["title"] == "Install guide" and meta["status"] == "ready"
    assert meta["bytes"] == len(GUIDE.encode()) and meta["content_type"] == "text/markdown"
    content = world.request("GET", "/v1/documents/guides/install.md/content")
    assert content.body == GUIDE.encode() and content.headers["content-type"] == "text/markdown"
    stored = world.r2.objects["acme/guides/install.md"][1]
    assert stored.custom_metadata == {
        "sha256": body["sha256"],
        "title": "Install guide",
        "content_type": "text/markdown",
        "chunks": str(body["chunks"]),
    }

    for mode in ("keyword", "vector", "hybrid"):
        status, found = world.json("POST", "/v1/rag/search", {"query": "Windows WSL2 support", "mode": mode})
        assert status == 200 and found["mode"] == mode
        assert found["data"][0]["doc_id"] == "guides/install.md", mode
        assert "WSL2" in found["data"][0]["text"], mode

    response = world.request("POST", "/v1/rag/query", {"question": "Is Windows supported?"})
    answer = json.loads(response.body)
    assert (
        response.status == 200
        and response.headers["x-edgestack-cache"] == "MISS"
        and answer["cache"] == "MISS"
    )
    assert answer["model"] == "extractive" and "WSL2" in answer["answer"]
    cited = int(answer["answer"].split("[")[1].split("]")[0])
    assert "WSL2" in answer["citations"][cited - 1]["text"]
    assert set(answer["citations"][0]) == {"doc_id", "chunk", "title", "score", "text"}


def test_faq_cache_hit_then_invalidated_by_any_document_change(world: RagWorld) -> None:
    world.put("a", GUIDE)
    question = {"question": "How do I start the local runtime?"}
    first = world.request("POST", "/v1/rag/query", question)
    again = world.request("POST", "/v1/rag/query", {"question": "  how do I START the local runtime  "})
    assert first.headers["x-edgestack-cache"] == "MISS" and again.headers["x-edgestack-cache"] == "HIT"
    assert json.loads(again.body)["answer"] == json.loads(first.body)["answer"]
    world.put("b", "Something unrelated about gardening tomatoes in summer.")  # any change bumps the version
    assert world.request("POST", "/v1/rag/query", question).headers["x-edgestack-cache"] == "MISS"
    world.put("a", GUIDE.replace("8787", "9999"))
    after = world.request("POST", "/v1/rag/query", question)
    assert after.headers["x-edgestack-cache"] == "MISS" and "9999" in json.loads(after.body)["answer"]
    world.json("DELETE", "/v1/documents/a")
    gone = world.request("POST", "/v1/rag/query", question)
    assert gone.headers["x-edgestack-cache"] == "MISS" and "8787" not in gone.body.decode()


def test_same_bytes_again_are_unchanged_and_not_reembedded(world: RagWorld) -> None:
    world.put("doc", GUIDE)
    calls = len(world.ai.calls)
    status, body = world.put("doc", GUIDE)
    assert status == 200 and body["status"] == "unchanged" and len(world.ai.calls) == calls


def test_update_and_delete_leave_no_orphans(world: RagWorld) -> None:
    long_text = "\n\n".join(f"Paragraph {i} talks about topic{i} in some detail here." for i in range(60))
    _, first = world.put("doc", long_text)
    assert first["chunks"] > 3
    assert world.vector_count("acme", "doc") == first["chunks"] == world.keyword_rows("acme", "doc")
    _, second = world.put("doc", "A short replacement about apples.")
    assert second["chunks"] == 1
    assert world.vector_count("acme", "doc") == 1 and world.keyword_rows("acme", "doc") == 1
    assert world.fts_matches("topic7") == 0
    world.check_fts_integrity()
    status, _ = world.json("DELETE", "/v1/documents/doc")
    assert status == 200
    assert world.vector_count("acme", "doc") == 0 and world.keyword_rows("acme", "doc") == 0
    assert "acme/doc" not in world.r2.objects and world.fts_matches("apples") == 0
    world.check_fts_integrity()
    assert world.json("GET", "/v1/documents/doc")[0] == 404
    assert world.json("DELETE", "/v1/documents/doc")[0] == 404


def test_deletes_go_in_batches_of_at_most_100_ids(world: RagWorld) -> None:
    text = "\n\n".join(f"Section {i}: " + "words " * 50 for i in range(260))
    status, body = world.put("big", text)
    assert status == 202 and body["chunks"] > 200  # over MAX_INLINE_CHUNKS: through the queue
    world.deliver_queue()
    assert world.vector_count("acme", "big") == body["chunks"]
    world.json("DELETE", "/v1/documents/big")
    deletes = [n for op, n in world.vectors.calls if op == "delete"]
    assert deletes and max(deletes) <= 100 and world.vector_count("acme", "big") == 0


def test_tenant_isolation_same_doc_id_two_keys(world: RagWorld) -> None:
    world.put("shared.md", "Acme's secret launch code is PINEAPPLE.", key=WRITER)
    world.put("shared.md", "Globex builds volcano lairs with magma cooling.", key=OTHER)
    assert world.r2.objects["acme/shared.md"][0] != world.r2.objects["globex/shared.md"][0]
    for mode in ("keyword", "vector", "hybrid"):
        _, hits = world.json(
            "POST", "/v1/rag/search", {"query": "secret launch code pineapple", "mode": mode}, key=OTHER
        )
        assert all("PINEAPPLE" not in h["text"] for h in hits["data"]), mode
    acme = world.request("POST", "/v1/rag/query", {"question": "What is the launch code?"}, key=READER)
    globex = world.request("POST", "/v1/rag/query", {"question": "What is the launch code?"}, key=OTHER)
    assert "PINEAPPLE" in acme.body.decode() and "PINEAPPLE" not in globex.body.decode()
    assert globex.headers["x-edgestack-cache"] == "MISS"  # acme's cached answer is not globex's
    assert world.request("GET", "/v1/documents/shared.md/content", key=OTHER).body.startswith(b"Globex")
    world.json("DELETE", "/v1/documents/shared.md", key=OTHER)
    assert world.json("GET", "/v1/documents/shared.md", key=READER)[1]["status"] == "ready"
    assert world.vector_count("acme", "shared.md") == 1


def test_listing_with_prefix_limit_and_cursor(world: RagWorld) -> None:
    for name in ("a/1", "a/2", "a/3", "b/1"):
        world.put(name, f"Document {name} text body.")
    status, page = world.json("GET", "/v1/documents?prefix=a/&limit=2")
    assert status == 200 and [d["id"] for d in page["data"]] == ["a/1", "a/2"] and page["cursor"] == "a/2"
    _, rest = world.json("GET", f"/v1/documents?prefix=a/&limit=2&cursor={page['cursor']}")
    assert [d["id"] for d in rest["data"]] == ["a/3"] and rest["cursor"] is None
    _, other = world.json("GET", "/v1/documents", key=OTHER)
    assert other["data"] == []


def test_filters_apply_to_vector_and_keyword_hits(world: RagWorld) -> None:
    for doc_id, category, year in (("x", "billing", 2024), ("y", "support", 2025), ("z", "billing", 2025)):
        body = {
            "text": f"Refund policy notes for {category} in {year}: refunds take five days.",
            "metadata": {"category": category, "year": year},
        }
        assert world.json("PUT", f"/v1/documents/{doc_id}", body)[0] == 200
    cases = {
        json.dumps({"category": "billing"}): {"x", "z"},
        json.dumps({"category": {"$ne": "billing"}}): {"y"},
        json.dumps({"year": {"$in": [2025]}}): {"y", "z"},
        json.dumps({"category": {"$nin": ["support"]}, "year": {"$eq": 2025}}): {"z"},
    }
    for raw, expected in cases.items():
        for mode in ("keyword", "vector", "hybrid"):
            _, hits = world.json(
                "POST", "/v1/rag/search", {"query": "refund policy", "mode": mode, "filter": json.loads(raw)}
            )
            assert {h["doc_id"] for h in hits["data"]} == expected, (raw, mode)


def test_vectors_not_yet_applied_by_vectorize_are_not_served_after_delete() -> None:
    world = RagWorld(lag=True)
    world.put("doc", "Pelicans fly over the bay at dawn.")
    world.vectors.apply_pending()
    world.json("DELETE", "/v1/documents/doc")
    assert world.vector_count("acme", "doc") == 1  # Vectorize has not applied the delete yet
    _, hits = world.json("POST", "/v1/rag/search", {"query": "pelicans bay", "mode": "vector"})
    assert hits["data"] == []


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "param", "fragment"),
    [
        ("PUT", "/v1/documents/empty", b"   \n ", "text/plain", 400, "body", "empty"),
        (
            "PUT",
            "/v1/documents/latin1",
            "café".encode("latin-1"),
            "text/plain",
            400,
            "body",
            "not valid UTF-8",
        ),
        ("PUT", "/v1/documents/bad..id", b"text", "text/plain", 400, "id", "'..'"),
        ("PUT", "/v1/documents/bad%20id", b"text", "text/plain", 400, "id", "[A-Za-z0-9._/-]"),
        ("PUT", "/v1/documents/" + "x" * 257, b"text", "text/plain", 400, "id", "1-256"),
        ("PUT", "/v1/documents/j", b'{"text": ""}', "application/json", 400, "text", "empty"),
        (
            "PUT",
            "/v1/documents/j",
            b'{"text": "x", "metadata": {"tenant": "evil"}}',
            "application/json",
            400,
            "metadata.tenant",
            "reserved",
        ),
        ("PUT", "/v1/documents/p", b"\x89PNG", "image/png", 415, "content-type", "content-type"),
        (
            "POST",
            "/v1/rag/search",
            b'{"query": "x", "top_k": 21}',
            "application/json",
            400,
            "top_k",
            "1 to 20",
        ),
        (
            "POST",
            "/v1/rag/search",
            b'{"query": "x", "filter": {"category": {"$gt": 1}}}',
            "application/json",
            400,
            "filter.category.$gt",
            "unknown filter operator",
        ),
        (
            "POST",
            "/v1/rag/search",
            b'{"query": "x", "filter": {"color": "red"}}',
            "application/json",
            400,
            "filter.color",
            "not filterable",
        ),
        (
            "POST",
            "/v1/rag/search",
            b'{"query": "x", "filter": {"tenant": "globex"}}',
            "application/json",
            400,
            "filter.tenant",
            "reserved",
        ),
        (
            "POST",
            "/v1/rag/search",
            b'{"query": "x", "mode": "fuzzy"}',
            "application/json",
            400,
            "mode",
            "hybrid",
        ),
        ("POST", "/v1/rag/query", b'{"question": "  "}', "application/json", 400, "question", "non-empty"),
        (
            "POST",
            "/v1/rag/query",
            b'{"question": "x", "top_k": 0}',
            "application/json",
            400,
            "top_k",
            "1 to 20",
        ),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field_and_leaves_nothing(
    world: RagWorld, method, path, body, content_type, status, param, fragment
) -> None:
    response = world.request(method, path, body, content_type=content_type)
    error = json.loads(response.body)["error"]
    assert response.status == status and error["param"] == param and fragment in error["message"], error
    assert world.r2.objects == {} and world.vectors.vectors == {} and world.keyword_rows("acme", "j") == 0


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/rag/search", "POST"),
        ("GET", "/v1/rag/query", "POST"),
        ("POST", "/v1/documents", "GET"),
        ("POST", "/v1/documents/x", "GET, PUT, DELETE"),
    ],
)
def test_a_wrong_method_is_405_with_allow(world: RagWorld, method: str, path: str, allow: str) -> None:
    response = world.request(method, path)
    assert response.status == 405 and response.headers["allow"] == allow
    assert json.loads(response.body)["error"]["type"] == "invalid_request_error"


def test_document_over_max_bytes_is_413() -> None:
    world = RagWorld(max_document_bytes=1000)
    response = world.request("PUT", "/v1/documents/big", b"a " * 600)
    assert response.status == 413 and json.loads(response.body)["error"]["param"] == "body"
    assert world.r2.objects == {}


def test_read_only_key_cannot_write_and_public_stacks_are_open() -> None:
    world = RagWorld()
    response = world.request("PUT", "/v1/documents/x", b"text", key=READER)
    error = json.loads(response.body)["error"]
    assert response.status == 403 and error["param"] == "documents" and world.r2.objects == {}
    assert world.request("DELETE", "/v1/documents/x", key=READER).status == 403
    assert world.request("GET", "/v1/documents", key=None).status == 401
    public = RagWorld(public=True)
    assert public.request("PUT", "/v1/documents/x", b"Open text.", key=None).status == 200
    assert "public/x" in public.r2.objects


def test_html_is_stripped_with_title_and_json_body_carries_title(world: RagWorld) -> None:
    html = b"<html><head><title>Ops  Manual</title><style>p{}</style></head><body><h1>Backups</h1><p>Run <b>nightly</b> snapshots.</p><script>x()</script></body></html>"
    _, body = world.put("ops.html", html.decode(), content_type="text/html")
    _, meta = world.json("GET", "/v1/documents/ops.html")
    assert meta["title"] == "Ops Manual"
    _, hits = world.json("POST", "/v1/rag/search", {"query": "nightly snapshots", "mode": "keyword"})
    assert hits["data"][0]["text"].count("<") == 0 and "x()" not in hits["data"][0]["text"]


def test_embedding_retries_on_429_then_succeeds_and_input_errors_are_not_retried(world: RagWorld) -> None:
    world.ai.fail_next = [RuntimeError("3040: Capacity temporarily exceeded, please try again. (429)")]
    assert world.put("r", "Retry me please.")[1]["status"] == "ready"
    world.ai.fail_next = [RuntimeError("AiError: 5006: Error: oneOf at '/' not met")] * 5
    status, body = world.put("s", "Fails on input.")
    assert status == 502 and "embedding failed" in body["error"]["message"]
    assert (
        world.vector_count("acme", "s") == 0
        and world.keyword_rows("acme", "s") == 0
        and "acme/s" not in world.r2.objects
    )


def test_large_document_goes_through_the_queue_in_batches() -> None:
    world = RagWorld(inline_max_bytes=2000)
    text = "\n\n".join(
        f"Chapter {i}. The lighthouse keeper logs ship number {i} at night." for i in range(700)
    )
    status, body = world.put("novel.txt", text)
    assert status == 202 and body["status"] == "indexing" and body["chunks"] > 100
    assert world.json("GET", "/v1/documents/novel.txt")[1]["status"] == "indexing"
    assert world.deliver_queue() >= 2  # one message per batch of 100 chunks
    assert max(world.ai.calls) <= 100
    _, meta = world.json("GET", "/v1/documents/novel.txt")
    assert meta["status"] == "ready" and meta["chunks"] == body["chunks"]
    assert (
        world.vector_count("acme", "novel.txt") == body["chunks"] == world.keyword_rows("acme", "novel.txt")
    )


def test_r2_upload_event_indexes_objects_written_straight_to_the_bucket(world: RagWorld) -> None:
    import asyncio

    asyncio.run(
        world.r2.put_object("acme/direct.md", b"Uploaded by rclone: the walrus sings.", "text/markdown", {})
    )
    world.queue.sent.append(
        {
            "account": "a",
            "bucket": "docs",
            "action": "PutObject",
            "object": {"key": "acme/direct.md", "size": 37, "eTag": "e"},
        }
    )
    world.deliver_queue()
    _, meta = world.json("GET", "/v1/documents/direct.md")
    assert meta["status"] == "ready" and world.r2.puts == 1  # the original was not re-written
    world.queue.sent.append({"action": "DeleteObject", "object": {"key": "acme/direct.md"}})
    world.deliver_queue()
    assert (
        world.json("GET", "/v1/documents/direct.md")[0] == 404
        and world.vector_count("acme", "direct.md") == 0
    )


def test_streamed_query_is_server_sent_events(world: RagWorld) -> None:
    world.put("a", GUIDE)
    response = world.request("POST", "/v1/rag/query", {"question": "Is Windows supported?", "stream": True})
    assert response.status == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n") for block in response.body.decode().strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert names[0] == "citations" and names[-1] == "done" and "delta" in names
    done = json.loads(events[-1][1].removeprefix("data: "))
    assert "WSL2" in done["answer"]


def test_in_process_search_for_agents(world: RagWorld) -> None:
    import asyncio

    from app.rag import search

    world.put("a", GUIDE)
    hits = asyncio.run(search(world.services(), "acme", "Windows support", top_k=2, mode="keyword"))
    assert hits and hits[0].doc_id == "a" and len(hits) <= 2 and "WSL2" in hits[0].text
    assert asyncio.run(search(world.services(), "globex", "Windows support")) == []


def test_expose_as_model_lists_the_model_and_answers_chat_completions_with_citations() -> None:
    world = RagWorld(expose_as_model="docs-rag")
    world.put("guide.md", GUIDE)
    _, models = world.json("GET", "/v1/models")
    assert "docs-rag" in [m["id"] for m in models["data"]]
    response = world.request(
        "POST",
        "/v1/chat/completions",
        {
            "model": "docs-rag",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "Is Windows supported?"},
            ],
        },
    )
    completion = json.loads(response.body)
    content = completion["choices"][0]["message"]["content"]
    assert (
        response.status == 200
        and completion["object"] == "chat.completion"
        and completion["model"] == "docs-rag"
    )
    assert "WSL2" in content and "Sources:\n[1] guide.md" in content
    citations = json.loads(response.headers["x-edgestack-citations"])
    assert citations[0]["doc_id"] == "guide.md" and citations[0]["n"] == 1
    streamed = world.request(
        "POST",
        "/v1/chat/completions",
        {
            "model": "docs-rag",
            "stream": True,
            "messages": [{"role": "user", "content": "Is Windows supported?"}],
        },
    )
    assert streamed.body.endswith(b"data: [DONE]\n\n") and b"WSL2" in streamed.body
    bad = world.request(
        "POST",
        "/v1/chat/completions",
        {"model": "docs-rag", "messages": [{"role": "system", "content": "x"}]},
    )
    assert bad.status == 400 and json.loads(bad.body)["error"]["param"] == "messages"


def test_llm_answers_go_through_the_gateway_with_numbered_sources() -> None:
    world = RagWorld(llm=True)
    world.put("guide.md", GUIDE)
    response = world.request("POST", "/v1/rag/query", {"question": "Is Windows supported?"})
    body = json.loads(response.body)
    assert response.status == 200 and body["answer"] == "It is not supported; use WSL2 [1]."
    assert body["model"] == "@cf/meta/llama-3.1-8b-instruct" and body["cache"] == "MISS"
    [prompt] = world.ai.prompts
    assert prompt[0]["role"] == "system" and "[n]" in prompt[0]["content"]
    assert (
        "[1] guide.md" in prompt[1]["content"] and "Question: Is Windows supported?" in prompt[1]["content"]
    )
    assert body["citations"][0]["text"] in prompt[1]["content"]
    rows = world.db.query("SELECT alias, status, key_id FROM gateway_usage")
    assert rows == [{"alias": "rag-llm", "status": 200, "key_id": "writer"}]  # usage recorded as the caller
    again = world.request("POST", "/v1/rag/query", {"question": "is windows supported"})
    assert again.headers["x-edgestack-cache"] == "HIT" and len(world.ai.prompts) == 1


def test_generation_failure_is_a_502_naming_what_failed() -> None:
    world = RagWorld(llm=True)
    world.put("guide.md", GUIDE)
    world.ai.fail_generation = "3040: Capacity temporarily exceeded"
    response = world.request("POST", "/v1/rag/query", {"question": "Is Windows supported?"})
    error = json.loads(response.body)["error"]
    assert response.status == 502 and "generation through gateway alias 'rag-llm' failed" in error["message"]
    assert world.faq.data == {}  # nothing cached


def test_llm_answers_stream_from_the_gateway_without_a_faq_cache() -> None:
    world = RagWorld(llm=True, faq_cache_binding=None)
    world.put("guide.md", GUIDE)
    response = world.request("POST", "/v1/rag/query", {"question": "Is Windows supported?", "stream": True})
    events = [block.split("\n") for block in response.body.decode().strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert names[0] == "citations" and names[-1] == "done" and names.count("delta") >= 3
    done = json.loads(events[-1][1].removeprefix("data: "))
    assert (
        done["answer"].strip() == "It is not supported; use WSL2 [1]."
        and response.headers["x-edgestack-cache"] == "BYPASS"
    )


def test_queued_document_that_keeps_failing_ends_failed_with_a_reason_and_no_index() -> None:
    world = RagWorld(inline_max_bytes=500)
    text = "\n\n".join(f"Line {i} about harbour cranes and tides." for i in range(200))
    assert world.put("q.txt", text)[0] == 202
    world.ai.fail_next = [RuntimeError("503 Service Unavailable")] * 50
    world.deliver_queue()
    _, meta = world.json("GET", "/v1/documents/q.txt")
    assert meta["status"] == "failed" and "503" in meta["reason"]
    assert world.vector_count("acme", "q.txt") == 0 and world.keyword_rows("acme", "q.txt") == 0
    world.ai.fail_next = []
    assert world.put("q.txt", text)[0] == 202  # a failed document is indexed again on the next PUT
    world.deliver_queue()
    assert world.json("GET", "/v1/documents/q.txt")[1]["status"] == "ready"


def test_a_document_replaced_while_queued_drops_the_stale_batches() -> None:
    world = RagWorld(inline_max_bytes=500)
    world.put("r.txt", "\n\n".join(f"Old line {i} about zebras." for i in range(100)))
    status, body = world.put("r.txt", "A brand new short text about giraffes.")
    assert status == 200 and body["status"] == "ready"
    world.deliver_queue()  # the old version's message finds another sha256 and is dropped
    assert world.keyword_rows("acme", "r.txt") == 1 and world.fts_matches("zebras") == 0


def test_check_vectors_reports_what_vectorize_already_serves() -> None:
    world = RagWorld(lag=True)
    text = "\n\n".join(f"Paragraph {i} on the migration of arctic terns." for i in range(200))
    _, body = world.put("terns.txt", text)
    assert body["chunks"] > 20
    _, before = world.json("GET", "/v1/documents/terns.txt?check=vectors")
    assert before["status"] == "ready" and before["vectors"] == {"checked": 20, "visible": 0}
    world.vectors.apply_pending()  # Vectorize has processed the mutations
    _, after = world.json("GET", "/v1/documents/terns.txt?check=vectors")
    assert after["vectors"] == {"checked": 20, "visible": 20}
    assert "vectors" not in world.json("GET", "/v1/documents/terns.txt")[1]


def test_consumer_without_rag_keeps_rag_messages_and_drops_others() -> None:
    import asyncio

    from app.rag.consumer import consume

    world = RagWorld()
    world.config["rag"] = None
    outcome: list[str] = []
    messages = [
        (
            {"type": "rag.ingest", "tenant": "t", "doc_id": "d", "sha256": "x", "start": 0},
            1,
            lambda: outcome.append("ack rag"),
            lambda: outcome.append("retry rag"),
        ),
        ({"hello": "world"}, 1, lambda: outcome.append("ack other"), lambda: outcome.append("retry other")),
    ]
    asyncio.run(consume(messages, world.services()))
    assert outcome == ["retry rag", "ack other"]


def test_the_agents_rag_search_tool_resolves_to_this_package(world: RagWorld) -> None:
    import asyncio

    from app.agents.runner import resolve_rag_search
    from app.web.errors import ApiError

    world.put("guide.md", GUIDE)
    search = resolve_rag_search(world.services())
    assert search is not None
    hits = asyncio.run(search(world.services(), "acme", "Windows WSL2", top_k=3, mode="keyword"))
    assert hits[0].doc_id == "guide.md" and {"doc_id", "chunk", "score", "title", "text"} <= set(
        hits[0]._fields
    )
    with pytest.raises(ApiError, match="1 to 20"):
        asyncio.run(search(world.services(), "acme", "x", top_k=50))
