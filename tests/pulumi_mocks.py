"""Shared test helpers: stacks built in code, a small offline bundle, and synth under Pulumi mocks.

The bundle here vendors a tiny stand-in for `workers-runtime-sdk` (two files) so planner and
component tests need neither the network nor the wheel cache; tests of the real SDK live in
tests/test_bundler.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from infra.deploy.synth import SynthResult, synth_plan
from infra.plan.bundle import PYTHON_MODULE, Bundle, Module, VendoredFile, bundle_sha256, vendored_modules
from infra.plan.model import Plan
from infra.plan.planner import Release, plan
from infra.spec import Stack
from infra.stackfile.load import check_stack

ACCOUNT = "0123456789abcdef0123456789abcdef"
ZONE_ID = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
SHOP_MIGRATIONS = Path(__file__).parent / "fixtures" / "shop_migrations"
SHOP_WORKER_SRC = Path(__file__).parent / "fixtures" / "shop_worker_src"  # its Durable Object classes

ENTRY_SOURCE = b"from workers import WorkerEntrypoint\n\n\nclass Default(WorkerEntrypoint):\n    pass\n"
APP_SOURCE = b"VALUE = 1\n"
FAKE_SDK = (
    VendoredFile("workers/__init__.py", b"from .entrypoints import WorkerEntrypoint\n"),
    VendoredFile("workers/workflows.js", b"export const x = 1;\n"),
)


def fake_bundle(entry: bytes = ENTRY_SOURCE, app: bytes = APP_SOURCE) -> Bundle:
    modules = tuple(
        sorted(
            (
                Module.of("entry.py", PYTHON_MODULE, entry),
                Module.of("app/core.py", PYTHON_MODULE, app),
                *vendored_modules(FAKE_SDK),
            ),
            key=lambda m: m.name,
        )
    )
    return Bundle("entry.py", modules, bundle_sha256("entry.py", modules))


def full_stack_dict() -> dict[str, Any]:
    """A stack using every binding kind, routing feature and a Durable Object migration."""
    return {
        "account_id": ACCOUNT,
        "name_prefix": "shop",
        "environment": "prod",
        "zones": {"main": {"id": ZONE_ID}},
        "worker": {
            "name": "api",
            "compatibility_date": "2026-11-01",
            "compatibility_flags": ["nodejs_compat"],
            "python": "3.14",
            "vars": {"LOG_LEVEL": "info"},
            "secrets": ["OPENAI_API_KEY"],
            "routes": [{"pattern": "api.shop.example/v1/*", "zone": "main"}],
            "custom_domains": [{"hostname": "ai.shop.example", "zone": "main"}],
            "crons": ["0 3 * * *", "*/5 * * * *"],
            "observability": {"enabled": True, "head_sampling_rate": 0.25},
            "cpu_ms": 30000,
            "placement": "smart",
            "workers_dev": True,
        },
        "bindings": {
            "kv": {"CACHE": {}, "SCRATCH": {"protect": False}},
            "d1": {"DB": {"migrations": str(SHOP_MIGRATIONS)}},
            "r2": {"DOCS": {"location": "weur"}},
            "vectorize": {"VECTORS": {"dimensions": 384, "metadata_indexes": {"tenant": "string"}}},
            "durable_objects": {"AGENT": {"class_name": "AgentState"}},
            "ai": "AI",
            "rate_limits": {"LIMITER": {"namespace_id": 1001, "limit": 100, "period": 60}},
            "queues": {
                "JOBS": {"max_batch_size": 20, "max_batch_timeout_s": 3},
                "OUTBOX": {"consume": False},
            },
        },
        "durable_object_migrations": [{"tag": "v1", "new_sqlite_classes": ["AgentState"]}],
        "ai_gateway": {"id": "gw", "cache_ttl": 60},
        "gateway": {"enabled": True},  # RAG is served under the gateway's /v1 routes
        "rag": {"documents_binding": "DOCS", "index_binding": "VECTORS", "generation": "extractive"},
        "agents": {"state_binding": "AGENT", "history_binding": "DB"},
    }


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` deep-merged into a copy of `base` (`None` deletes a key)."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_stack(overlay: dict[str, Any] | None = None) -> Stack:
    """The full stack with `overlay`, through the same checks as `load_stack` (pydantic, then the
    cross-reference pass, against `SHOP_WORKER_SRC`): a fixture cannot be a stack that `load_stack`
    would refuse."""
    return check_stack(Stack.model_validate(merged(full_stack_dict(), overlay or {})), worker_src=SHOP_WORKER_SRC)


def make_plan(
    overlay: dict[str, Any] | None = None,
    *,
    deployed_tag: str | None = None,
    bundle: Bundle | None = None,
    release: Release | None = None,
) -> Plan:
    return plan(
        make_stack(overlay),
        bundle or fake_bundle(),
        stack_name="test",
        deployed_migration_tag=deployed_tag,
        release=release,
    )


def synth(
    overlay: dict[str, Any] | None = None, *, deployed_tag: str | None = None, bundle: Bundle | None = None
) -> SynthResult:
    return synth_plan(
        make_plan(overlay, deployed_tag=deployed_tag, bundle=bundle), deployed_migration_tag=deployed_tag
    )
