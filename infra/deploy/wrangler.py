"""The stack as a `wrangler.jsonc`, for running the same Worker under Cloudflare's `wrangler dev`
(real workerd) or deploying it with wrangler instead of Pulumi.

Built from the planner's `Plan`, like the local runtime's configuration, so names, bindings,
plain-text vars and Durable Object migrations match what `pulumi up` deploys. Secrets are not
written: wrangler reads them from `.dev.vars` (the same file `edgestack dev` reads).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from infra.plan.model import Plan
from infra.plan.worker_model import (
    AiBinding,
    DurableObjectBinding,
    PlainTextBinding,
    RateLimitBinding,
    SecretTextBinding,
)
from infra.spec import Stack


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def wrangler_config(stack: Stack, plan: Plan, *, worker_src: Path, output_dir: Path) -> dict[str, Any]:
    worker = stack.worker
    code = plan.worker.version.code
    config: dict[str, Any] = {
        "$schema": "node_modules/wrangler/config-schema.json",
        "name": plan.script_name,
        "main": _relative(worker_src / code.main_module, output_dir),
        "compatibility_date": code.compatibility_date,
        "compatibility_flags": list(code.compatibility_flags),
        "workers_dev": worker.workers_dev,
        "observability": {
            "enabled": worker.observability.enabled,
            "head_sampling_rate": worker.observability.head_sampling_rate,
        },
    }
    if worker.cpu_ms is not None:
        config["limits"] = {"cpu_ms": worker.cpu_ms}
    if worker.placement:
        config["placement"] = {"mode": worker.placement}
    config["vars"] = {b.name: b.text for b in plan.bindings if isinstance(b, PlainTextBinding)}
    if plan.storage.kv:
        # wrangler needs an id; the KV title stands in locally. Use the id from `pulumi stack output`
        # for remote development.
        config["kv_namespaces"] = [{"binding": p.binding, "id": p.title} for p in plan.storage.kv]
    if plan.storage.d1:
        folders = {m.binding: m.migrations_dir for m in plan.storage.d1_migrations}
        config["d1_databases"] = [
            {
                "binding": p.binding,
                "database_name": p.database_name,
                "database_id": p.database_name,
                **(
                    {"migrations_dir": _relative(Path(folders[p.binding]), output_dir)}
                    if p.binding in folders
                    else {}
                ),
            }
            for p in plan.storage.d1
        ]
    if plan.storage.r2:
        config["r2_buckets"] = [{"binding": p.binding, "bucket_name": p.bucket_name} for p in plan.storage.r2]
    if plan.storage.vectorize:
        config["vectorize"] = [{"binding": p.binding, "index_name": p.index_name} for p in plan.storage.vectorize]
    durable = [b for b in plan.bindings if isinstance(b, DurableObjectBinding)]
    if durable:
        config["durable_objects"] = {
            "bindings": [{"name": b.name, "class_name": b.class_name} for b in durable]
        }
    if stack.durable_object_migrations:
        config["migrations"] = [
            {
                "tag": step.tag,
                **({"new_sqlite_classes": list(step.new_sqlite_classes)} if step.new_sqlite_classes else {}),
                **(
                    {"renamed_classes": [{"from": r.from_, "to": r.to} for r in step.renamed_classes]}
                    if step.renamed_classes
                    else {}
                ),
                **({"deleted_classes": list(step.deleted_classes)} if step.deleted_classes else {}),
            }
            for step in stack.durable_object_migrations
        ]
    ai = next((b for b in plan.bindings if isinstance(b, AiBinding)), None)
    if ai:
        config["ai"] = {"binding": ai.name}
    limits = [b for b in plan.bindings if isinstance(b, RateLimitBinding)]
    if limits:
        config["ratelimits"] = [
            {"name": b.name, "namespace_id": b.namespace_id, "simple": {"limit": b.limit, "period": b.period}}
            for b in limits
        ]
    if plan.storage.queues:
        config["queues"] = {
            "producers": [{"binding": p.binding, "queue": p.queue_name} for p in plan.storage.queues],
            "consumers": [
                {
                    "queue": p.queue_name,
                    "max_batch_size": stack.bindings.queues[p.binding].max_batch_size,
                    "max_batch_timeout": stack.bindings.queues[p.binding].max_batch_timeout_s,
                }
                for p in plan.storage.queues
                if stack.bindings.queues[p.binding].consume
            ],
        }
    if worker.crons:
        config["triggers"] = {"crons": list(worker.crons)}
    routes: list[dict[str, Any]] = [{"pattern": r.pattern, "zone_id": r.zone_id} for r in plan.routing.routes]
    routes += [{"pattern": d.hostname, "custom_domain": True} for d in plan.routing.custom_domains]
    if routes:
        config["routes"] = routes
    return config


def render_jsonc(config: dict[str, Any], *, source: str, secrets: list[str]) -> str:
    header = [
        f"// Generated by `edgestack wrangler-config` from {source}; regenerate instead of editing.",
        "// Run the same Worker on Cloudflare's workerd with `npx wrangler dev` (needs internet access: workerd",
        "// downloads its Python runtime). The `workers` SDK must be vendored under python_modules/ (pywrangler sync).",
    ]
    if secrets:
        header.append(f"// Secrets (not written here; put them in .dev.vars): {', '.join(secrets)}")
    return "\n".join(header) + "\n" + json.dumps(config, indent=2) + "\n"


def secret_names(plan: Plan) -> list[str]:
    return [b.name for b in plan.bindings if isinstance(b, SecretTextBinding)]
