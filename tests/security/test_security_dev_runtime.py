"""Security findings on the REAL local runtime (`edgestack dev`: the Worker on Pyodide inside
Miniflare/workerd). Here a parser recursion is not a catchable error: it overflows the WebAssembly
stack and kills the isolate, so every test also checks that `/healthz` still answers.

One runtime serves the module: stacks/local.yaml with virtual keys (two tenants) and
`rag.expose_as_model`. Deselect with `-m "not dev_runtime"` on a machine without Node.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from harness.planned import key_sha256
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runtime.harness import RunningRuntime, start_runtime, wait_for

pytestmark = pytest.mark.dev_runtime

REPO = Path(__file__).resolve().parents[2]
RAG_MODEL = "docs-rag"
KEYS = {  # name -> (key, tenant, extra key fields)
    "writer": ("sk-sec-writer", "acme", {"documents": "write"}),
    "admin": ("sk-sec-admin", "acme", {"admin": True, "documents": "write"}),
    "other": ("sk-sec-other", "globex", {"documents": "write"}),
    "operator": ("sk-sec-operator", "platform", {"operator": True}),
}
DEEP = 10_000


def security_stack(folder: Path) -> Path:
    stack = yaml.safe_load((REPO / "stacks" / "local.yaml").read_text())
    stack["gateway"]["public"] = False
    stack["gateway"]["keys"] = {
        name: {"sha256": key_sha256(key), "scope": scope, **extra} for name, (key, scope, extra) in KEYS.items()
    }
    stack["rag"]["expose_as_model"] = RAG_MODEL
    # Four keys make the shipped EDGESTACK_CONFIG outgrow Cloudflare's 5 KB variable limit on the full
    # local stack; keep only what these tests use (chat-fast, RAG, agents), not MCP or chat-smart.
    stack.pop("mcp", None)
    stack["gateway"]["routes"].pop("chat-smart", None)
    stack["agents"]["model_alias"] = "chat-fast"
    (folder / "migrations").symlink_to(REPO / "stacks" / "migrations")
    path = folder / "security-test.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runtime() -> Iterator[RunningRuntime]:
    with tempfile.TemporaryDirectory(prefix="edgestack-sec-") as tmp:
        folder = Path(tmp)
        running = start_runtime(security_stack(folder), REPO / "worker_src", folder / "state")
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def base_url(runtime: RunningRuntime) -> str:
    return runtime.url


def d1(runtime: RunningRuntime, binding: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    """A query through the runtime's local D1 REST endpoint (Cloudflare's shape)."""
    config = json.loads(runtime.session.config_file.read_text())
    database = next(d["databaseId"] for d in config["d1"] if d["binding"] == binding)
    response = httpx.post(
        f"{runtime.url}/__edgestack/client/v4/accounts/{'0' * 32}/d1/database/{database}/query",
        headers={"authorization": f"Bearer {runtime.admin_token}"},
        json={"sql": sql, "params": list(params)},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["result"][0]["results"])


def send(base_url: str, method: str, path: str, body: bytes, key: str | None = "writer") -> httpx.Response:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {KEYS[key][0]}"
    return httpx.request(method, base_url + path, content=body, headers=headers, timeout=60)


def healthy(base_url: str) -> bool:
    return httpx.get(base_url + "/healthz", timeout=30).status_code == 200


def nested(prefix: bytes, depth: int = DEEP) -> bytes:
    return prefix + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("method", "path", "prefix", "key", "status"),
    [
        # no key: the RAG model is not detected by parsing the body, so this is refused before parsing
        ("POST", "/v1/chat/completions", b'{"model":"docs-rag","messages":', None, 401),
        ("POST", "/v1/chat/completions", b'{"model":"docs-rag","messages":', "writer", 400),
        ("POST", "/v1/messages", b'{"model":"chat-fast","max_tokens":5,"messages":', "writer", 400),
        ("POST", "/v1/rag/search", b'{"query":"q","filter":', "writer", 400),
        ("POST", "/v1/rag/query", b'{"question":"q","filter":', "writer", 400),
        ("PUT", "/v1/documents/deep.json", b'{"text":"t","metadata":', "writer", 400),
        ("POST", "/v1/agents/deep/messages", b'{"content":"hi","x":', "writer", 400),
        ("PUT", "/v1/tools/deep", b'{"kind":"kv_lookup","prefix":', "admin", 400),
    ],
)
def test_a_deeply_nested_body_is_refused_and_the_runtime_lives(
    base_url: str, method: str, path: str, prefix: bytes, key: str | None, status: int
) -> None:
    response = send(base_url, method, path, nested(prefix), key)
    assert response.status_code == status, response.text[:300]
    if status == 400:
        assert "nests deeper than 64 levels" in response.text
    assert healthy(base_url)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/chat/completions", b'{"model":"docs-rag","messages":[{"role":"user","content":"\\ud800"}]}', "messages[0].content"),
        ("/v1/rag/search", b'{"query":"q","filter":{"category":"\\udfff"}}', "filter.category"),
        ("/v1/rag/search", b'{"query":"q","filter":{"year":9007199254740993}}', "filter.year"),
        ("/v1/agents/sur/messages", b'{"content":"a\\udc00b"}', "content"),
    ],
)  # fmt: skip
def test_surrogates_and_unsafe_integers_get_a_400_naming_the_field(
    base_url: str, path: str, body: bytes, field: str
) -> None:
    response = send(base_url, "POST", path, body)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["param"] == field
    assert healthy(base_url)


def test_metadata_beyond_2_53_never_leaves_a_failed_document(base_url: str) -> None:
    body = json.dumps({"text": "hello", "metadata": {"category": "x", "n": 2**60}}).encode()
    response = send(base_url, "PUT", "/v1/documents/bigint.json", body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "metadata.n"
    assert send(base_url, "GET", "/v1/documents/bigint.json", b"").status_code == 404


POISON = st.one_of(
    st.sampled_from(["\ud800", "x\udfffy", 2**53 + 1, -(2**63), [1, "\udc00"], {"k": 10**20}]),
    st.integers(65, 5_000).map(lambda n: f"DEEP:{n}"),
)
ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/rag/search"),
    ("POST", "/v1/rag/query"),
    ("PUT", "/v1/documents/fuzz.json"),
    ("POST", "/v1/agents/fuzz/messages"),
    ("POST", "/v1/agents/fuzz/approvals/call_1"),
]
FIELDS = st.sampled_from(["model", "messages", "query", "question", "filter", "text", "metadata", "content", "reason"])


def _poisoned(base: dict[str, Any], field: str, poison: Any) -> bytes:
    if isinstance(poison, str) and poison.startswith("DEEP:"):
        depth = int(poison[5:])
        head = json.dumps({**base, field: None})[:-1].encode()
        return head + b',"deep":' + b"[" * depth + b"]" * depth + b"}"
    return json.dumps({**base, field: poison}).encode()


@settings(
    max_examples=int(os.environ.get("EDGESTACK_RUNTIME_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    route=st.sampled_from(ROUTES),
    base=st.fixed_dictionaries({"model": st.just(RAG_MODEL)}),
    field=FIELDS,
    poison=POISON,
)
def test_fuzzed_hostile_bodies_get_400_and_the_runtime_lives(
    base_url: str, route: tuple[str, str], base: dict[str, Any], field: str, poison: Any
) -> None:
    method, path = route
    response = send(base_url, method, path, _poisoned(base, field, poison))
    assert response.status_code == 400, (route, field, repr(poison)[:80], response.text[:300])


def test_content_and_delete_need_the_callers_catalogue_entry(runtime: RunningRuntime) -> None:
    url = runtime.url
    put = send(url, "PUT", "/v1/documents/t3/plan.json", b'{"text":"the plan"}')
    assert put.status_code == 200, put.text
    assert send(url, "GET", "/v1/documents/t3/plan.json/content", b"").status_code == 200
    assert send(url, "GET", "/v1/documents/t3/plan.json/content", b"", key="other").status_code == 404
    assert send(url, "DELETE", "/v1/documents/t3/plan.json", b"", key="other").status_code == 404
    # the original stays in R2 while its catalogue entry is gone (an upload not yet indexed, or
    # another scope's object under this prefix): neither served nor deleted
    d1(runtime, "DB", "DELETE FROM rag_documents WHERE tenant = ?1 AND doc_id = ?2", "acme", "t3/plan.json")
    assert send(url, "GET", "/v1/documents/t3/plan.json/content", b"").status_code == 404
    assert send(url, "DELETE", "/v1/documents/t3/plan.json", b"").status_code == 404
    assert healthy(url)


def test_a_tenant_admin_sees_its_tenants_usage_and_the_operator_sees_all(runtime: RunningRuntime) -> None:
    for key in ("writer", "other"):  # refused by the provider (no key locally): still a usage row
        send(runtime.url, "POST", "/v1/chat/completions", b'{"model":"chat-fast","messages":[{"role":"user","content":"hi"}]}', key)
    wait_for(lambda: httpx.get(runtime.url + "/__edgestack/status", timeout=10).json()["background"]["pending"] == 0)

    def usage(key: str) -> tuple[str, set[str]]:
        response = httpx.get(
            runtime.url + "/v1/usage",
            params={"group_by": "key"},
            headers={"authorization": f"Bearer {KEYS[key][0]}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()["scope"], {row["key"] for row in response.json()["data"]}

    scope, keys = usage("admin")
    assert scope == "tenant" and "writer" in keys and keys <= {"writer", "admin"}  # never globex's "other"
    scope, keys = usage("operator")
    assert scope == "all" and {"writer", "other"} <= keys


@pytest.mark.parametrize("pattern", ["intranet", "vm", "*.co.uk", "printer.lan"])
def test_single_label_and_suffix_wide_allow_hosts_are_refused(base_url: str, pattern: str) -> None:
    body = json.dumps({"kind": "http_get", "allow_hosts": [pattern]}).encode()
    response = send(base_url, "PUT", "/v1/tools/web", body, key="admin")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "allow_hosts[0]"


def test_the_runtime_answers_healthz_after_the_fuzzing(base_url: str) -> None:
    assert healthy(base_url)
