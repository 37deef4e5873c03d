"""`edgestack wrangler-config`: the stack as wrangler's config (Cloudflare docs: Wrangler
configuration, keys `kv_namespaces`, `d1_databases`, `r2_buckets`, `durable_objects`, `migrations`,
`ratelimits`, `vars`)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import FIXTURES
from .harness import run_cli


def _load_jsonc(path: Path) -> dict:
    return json.loads("\n".join(line for line in path.read_text().splitlines() if not line.startswith("//")))


def test_fixture_stack(tmp_path: Path) -> None:
    output = tmp_path / "wrangler.jsonc"
    result = run_cli(
        "wrangler-config",
        str(FIXTURES / "stack.yaml"),
        "-o",
        str(output),
        "--worker-src",
        str(FIXTURES / "worker"),
    )
    assert result.returncode == 0, result.stderr
    text = output.read_text()
    assert "Secrets (not written here; put them in .dev.vars): API_TOKEN" in text
    config = _load_jsonc(output)
    assert config["name"] == "rt-api"
    assert (tmp_path / config["main"]).resolve() == (FIXTURES / "worker" / "entry.py").resolve()
    assert config["compatibility_flags"] == ["python_workers", "python_workers_20260610"]
    assert config["vars"]["GREETING"] == "hello" and config["vars"]["EDGESTACK_STACK"] == "stack"
    assert {"EDGESTACK_CONFIG", "EDGESTACK_BUNDLE_VERSION"} <= set(config["vars"])
    assert "API_TOKEN" not in config["vars"]
    assert config["kv_namespaces"] == [{"binding": "STORE", "id": "rt-store"}]
    assert config["d1_databases"][0]["binding"] == "DB"
    assert (tmp_path / config["d1_databases"][0]["migrations_dir"]).resolve() == (
        FIXTURES / "migrations"
    ).resolve()
    assert config["r2_buckets"] == [{"binding": "FILES", "bucket_name": "rt-files"}]
    assert config["durable_objects"]["bindings"] == [
        {"name": "COUNTER", "class_name": "Counter"},
        {"name": "OTHER", "class_name": "Other"},
    ]
    assert config["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["Counter", "Other"]}]


def test_local_stack_has_every_binding_kind(tmp_path: Path) -> None:
    output = tmp_path / "w.jsonc"
    assert run_cli("wrangler-config", "local", "-o", str(output)).returncode == 0
    config = _load_jsonc(output)
    assert config["ai"] == {"binding": "AI"}
    assert config["ratelimits"] == [
        {"name": "RATE_LIMITER", "namespace_id": "1", "simple": {"limit": 1000, "period": 60}}
    ]
    assert config["vectorize"] == [{"binding": "VECTORS", "index_name": "local-vectors"}]


def test_unknown_stack_is_one_line() -> None:
    result = run_cli("wrangler-config", "nope")
    assert (
        result.returncode == 1 and result.stderr.count("\n") == 1 and "unknown stack 'nope'" in result.stderr
    )
