"""The one JSON reader of the Worker (app/web/jsonbody.py): nesting refused before the parser recurses,
lone surrogates, integers beyond +-2^53 and non-finite numbers refused naming the field."""

from __future__ import annotations

import json

import pytest
from app.web.jsonbody import MAX_DEPTH, JsonBodyError, nesting_depth, read_json
from hypothesis import given, settings
from hypothesis import strategies as st


def refused(data: bytes | str) -> JsonBodyError:
    with pytest.raises(JsonBodyError) as caught:
        read_json(data)
    return caught.value


def test_deep_nesting_is_refused_without_recursing() -> None:
    # 200,000 levels: far past any recursion limit, so only a scan that never recurses gets here.
    error = refused(b"[" * 200_000)
    assert error.field == "body"
    assert f"nests deeper than {MAX_DEPTH} levels" in error.message
    assert "nests deeper" in refused(b'{"a":' * 10_000 + b"1" + b"}" * 10_000).message


def test_nesting_at_the_limit_is_read() -> None:
    assert read_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert "nests deeper" in refused(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)).message


def test_brackets_inside_strings_do_not_count() -> None:
    text = "[{" * 5000
    assert read_json(json.dumps({"content": text, "quoted": '\\"' + text})) == {
        "content": text,
        "quoted": '\\"' + text,
    }


@given(st.recursive(st.none() | st.integers(-5, 5) | st.text(alphabet='[]{}"\\ab', max_size=8),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3),
                    max_leaves=40))
@settings(max_examples=300, deadline=None)
def test_scan_depth_equals_the_parsed_depth(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0

    assert nesting_depth(json.dumps(value).encode()) == depth(value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"messages":[{"content":"\\ud800"}]}', "messages[0].content"),
        (b'{"reason":"a\\udfffb"}', "reason"),
        ('{"text":"\udc80"}'.encode("utf-8", "surrogatepass"), "text"),  # raw, as UTF-8 bytes
        (b'{"\\ud800":1}', "\\ud800"),  # in a key: named escaped, so the error itself can be sent
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(body: bytes, field: str) -> None:
    error = refused(body)
    assert error.field == field
    assert "unpaired UTF-16 surrogate" in error.message
    json.dumps(error.message, ensure_ascii=False).encode("utf-8")  # the message itself is sendable


def test_a_surrogate_pair_is_one_character() -> None:
    assert read_json(b'{"emoji":"\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"filter":{"year":9007199254740993}}', "filter.year"),
        (b'{"metadata":{"n":[1,-9007199254740993]}}', "metadata.n[1]"),
        (b'{"top_k":1e999}', "top_k"),
    ],
)
def test_numbers_javascript_cannot_carry_are_refused_naming_the_field(body: bytes, field: str) -> None:
    error = refused(body)
    assert error.field == field


def test_safe_integers_and_plain_numbers_are_read() -> None:
    assert read_json(b"[9007199254740992,-9007199254740992,1.5e300]") == [2**53, -(2**53), 1.5e300]


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"[-Infinity]"])
def test_non_json_constants_are_refused(constant: bytes) -> None:
    assert "is not a JSON number" in refused(constant).message


def test_invalid_json_says_so() -> None:
    assert refused(b"{not json").message.startswith("request body is not valid JSON")
    assert refused(b"\xff\xfe\x00").message.startswith("request body is not valid JSON")


def test_the_rag_model_is_not_read_from_the_body_of_an_unauthenticated_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.v1 as handler
    from harness.rag_world import RagWorld

    world = RagWorld(expose_as_model="docs-rag")
    parsed: list[bytes] = []
    real = handler.read_json
    monkeypatch.setattr(handler, "read_json", lambda data, **kw: parsed.append(data) or real(data, **kw))
    body = {"model": "docs-rag", "messages": [{"role": "user", "content": "hi"}]}
    assert world.request("POST", "/v1/chat/completions", body, key=None).status == 401
    assert world.request("POST", "/v1/chat/completions", body, key="sk-wrong").status == 401
    assert parsed == []
    assert world.request("POST", "/v1/chat/completions", body).status == 200  # a valid key: RAG answers
    assert len(parsed) == 1
