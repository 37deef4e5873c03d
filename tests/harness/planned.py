"""`EDGESTACK_CONFIG` for tests, as the real planner ships it: stacks/local.yaml with the test's
gateway/rag/agents/mcp sections (stack-file form; a section the test leaves out is removed), loaded by
`load_stack` (validation and cross-checks) and planned by `plan`, whose config binding is returned.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO, REPO / "worker_src"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from app.config import RuntimeConfig, parse_runtime_config  # noqa: E402

from infra.plan.bundle import Bundle  # noqa: E402
from infra.plan.planner import plan  # noqa: E402
from infra.plan.runtime_config import CONFIG_BINDING  # noqa: E402
from infra.plan.worker_model import PlainTextBinding  # noqa: E402
from infra.stackfile.extends import apply_overlay  # noqa: E402
from infra.stackfile.load import load_stack  # noqa: E402

SECTIONS = ("gateway", "rag", "agents", "mcp")
_BUNDLE = Bundle("entry.py", (), "0" * 64)  # the config does not depend on the code


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def local_stack_doc(
    sections: Mapping[str, Any], secrets: tuple[str, ...] = (), overlay: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """stacks/local.yaml as a document, `overlay` merged in as an `extends:` layer would be, with
    `sections` instead of its own and `secrets` declared (plus every secret the gateway section
    names); migration folders are absolute paths."""
    doc = apply_overlay(yaml.safe_load((REPO / "stacks" / "local.yaml").read_text()), dict(overlay or {}))
    for name in SECTIONS:
        if name in sections and sections[name] is not None:
            doc[name] = copy.deepcopy(dict(sections[name]))
        else:
            doc.pop(name, None)
    named = set(secrets)
    gateway = doc.get("gateway") or {}
    named.update(p["api_key_secret"] for p in gateway.get("providers", {}).values() if p.get("api_key_secret"))
    if gateway.get("ip_hash_salt_secret"):
        named.add(gateway["ip_hash_salt_secret"])
    doc["worker"]["secrets"] = sorted(set(doc["worker"].get("secrets", [])) | named)
    for database in doc["bindings"]["d1"].values():
        if database.get("migrations"):
            database["migrations"] = str(REPO / "stacks" / database["migrations"])
    return doc


@functools.lru_cache(maxsize=256)
def _planned(doc_json: str) -> str:
    with tempfile.TemporaryDirectory(prefix="edgestack-config-") as tmp:
        path = Path(tmp) / "test.yaml"
        path.write_text(yaml.safe_dump(json.loads(doc_json), sort_keys=False))
        planned = plan(load_stack(path), _BUNDLE)
    return next(b.text for b in planned.worker.bindings if isinstance(b, PlainTextBinding) and b.name == CONFIG_BINDING)


def planned_config(
    sections: Mapping[str, Any], secrets: tuple[str, ...] = (), overlay: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The decoded `EDGESTACK_CONFIG` the planner ships for the local stack with `sections`
    (raises `StackError` for sections `load_stack` refuses)."""
    return json.loads(_planned(json.dumps(local_stack_doc(sections, secrets, overlay), sort_keys=True, default=str)))


def runtime_config(config: Mapping[str, Any]) -> RuntimeConfig:
    """A decoded `EDGESTACK_CONFIG` (see `planned_config`) as the Worker parses it."""
    return parse_runtime_config(json.dumps(config))
