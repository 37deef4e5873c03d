"""`edgestack diff`: two synth graphs compared after normalizing names.

Normalizing makes two stacks comparable: each graph's `name_prefix` (read from its Worker's
logical name, `<prefix>-worker`) becomes `{prefix}` in resource names and string values, the
stack name becomes `{stack}`, mock resource ids become `{id:<normalized name>}`, modules are
compared by name, content type and sha256 (not their base64), lists of named items (bindings,
modules) are keyed by name, and the Worker's `EDGESTACK_CONFIG` JSON is compared field by field.
Secrets are already masked by synth (`"[secret]"`); values of bindings whose name looks like a
secret are masked as well.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.deploy.synth import SECRET, SynthResource, SynthResult
from infra.errors import EdgestackError
from infra.plan.planned_resource import Token
from infra.plan.runtime_config import CONFIG_BINDING
from infra.release.json_file import read_json_file
from infra.stackfile.load import looks_like_secret_var

PREFIX = "{prefix}"
STACK = "{stack}"
_WORKER_SUFFIX = "-worker"


class DiffInputError(EdgestackError):
    """A one-line reason a saved graph cannot be read."""


@dataclass(frozen=True)
class Change:
    resource: str
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class GraphDiff:
    left: str
    right: str
    added: tuple[tuple[str, str], ...]  # (normalized name, type)
    removed: tuple[tuple[str, str], ...]
    changed: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "added": [{"name": n, "type": t} for n, t in self.added],
            "removed": [{"name": n, "type": t} for n, t in self.removed],
            "changed": [
                {"resource": c.resource, "path": c.path, "before": c.before, "after": c.after}
                for c in self.changed
            ],
        }


# --- normalization ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Normalizer:
    prefix: str | None
    stack: str
    ids: Mapping[str, str]  # resource id -> normalized logical name

    def name(self, name: str) -> str:
        if self.prefix and (name == self.prefix or name.startswith(f"{self.prefix}-")):
            return PREFIX + name[len(self.prefix) :]
        return name

    def text(self, value: str) -> str:
        if value in self.ids:
            return f"{{id:{self.ids[value]}}}"
        if value == self.stack:
            return STACK
        if self.prefix:
            value = value.replace(f"{self.prefix}-", f"{PREFIX}-")
        return value

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            # uploaded content is compared by its sha256, never as base64
            drop = "contentBase64" if "contentSha256" in value else None
            return {k: self.value(v, k) for k, v in value.items() if k != drop}
        if isinstance(value, list):
            if key == "modules":
                return {
                    str(m.get("name")): {"contentType": m.get("contentType"), "sha256": m.get("contentSha256")}
                    for m in value
                    if isinstance(m, Mapping)
                }
            if key == "bindings":
                return {str(b.get("name")): self.binding(b) for b in value if isinstance(b, Mapping)}
            return [self.value(v) for v in value]
        return value

    def binding(self, binding: Mapping[str, Any]) -> Any:
        name = str(binding.get("name"))
        out = {k: self.value(v, k) for k, v in binding.items() if k != "name"}
        text = binding.get("text")
        if isinstance(text, str) and text != SECRET:
            if name == CONFIG_BINDING:
                with contextlib.suppress(json.JSONDecodeError):
                    out["text"] = self.value(json.loads(text))
            elif looks_like_secret_var(name, text):
                out["text"] = SECRET
        return out


def name_prefix(result: SynthResult) -> str | None:
    for resource in result.resources:
        if resource.type == Token.WORKER.value and resource.name.endswith(_WORKER_SUFFIX):
            return resource.name[: -len(_WORKER_SUFFIX)]
    return None


def _normalizer(result: SynthResult) -> _Normalizer:
    prefix = name_prefix(result)
    base = _Normalizer(prefix, result.stack, {})
    resource_ids = result.outputs.get("resourceIds")
    ids = (
        {str(v): base.name(str(k)) for k, v in resource_ids.items() if isinstance(v, str)}
        if isinstance(resource_ids, Mapping)
        else {}
    )
    return _Normalizer(prefix, result.stack, ids)


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    """Leaf path -> value. Named items (bindings, modules) and keys that are not identifiers are
    written `[key]` (`bindings[CACHE].namespaceId`, `modules[app/core.py].sha256`), others `.key`."""
    if isinstance(value, Mapping) and value:
        named_items = path.endswith(("bindings", "modules"))
        for key in sorted(value):
            child = f"{path}[{key}]" if named_items or not str(key).isidentifier() else f"{path}.{key}"
            _flatten(value[key], child.lstrip("."), out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", out)
    else:
        out[path] = value


def normalized(result: SynthResult) -> dict[str, tuple[str, dict[str, Any]]]:
    """Normalized name -> (type, flattened properties) for every resource of `result`."""
    norm = _normalizer(result)
    graph: dict[str, tuple[str, dict[str, Any]]] = {}
    for resource in result.resources:
        flat: dict[str, Any] = {}
        _flatten(norm.value(dict(resource.inputs)), "", flat)
        flat["protect"] = resource.protect
        flat["parent"] = norm.name(resource.parent) if resource.parent else None
        graph[norm.name(resource.name)] = (resource.type, flat)
    return graph


def diff_graphs(left: SynthResult, right: SynthResult) -> GraphDiff:
    """What `right` adds, removes and changes relative to `left`."""
    a, b = normalized(left), normalized(right)
    added = tuple(sorted((name, b[name][0]) for name in b.keys() - a.keys()))
    removed = tuple(sorted((name, a[name][0]) for name in a.keys() - b.keys()))
    changed: list[Change] = []
    for name in sorted(a.keys() & b.keys()):
        (type_a, props_a), (type_b, props_b) = a[name], b[name]
        if type_a != type_b:
            changed.append(Change(name, "type", type_a, type_b))
        for path in sorted(props_a.keys() | props_b.keys()):
            before, after = props_a.get(path), props_b.get(path)
            if before != after:
                changed.append(Change(name, path, before, after))
    return GraphDiff(left.stack, right.stack, added, removed, tuple(changed))


# --- rendering and saved graphs -----------------------------------------------------------------


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."


def render_table(diff: GraphDiff) -> str:
    lines = [
        f"diff {diff.left} -> {diff.right}: {len(diff.added)} added, {len(diff.removed)} removed, "
        f"{len(diff.changed)} changed input(s)"
    ]
    for name, type_token in diff.added:
        lines.append(f"+ {name}  {type_token.rsplit(':', 1)[-1]}")
    for name, type_token in diff.removed:
        lines.append(f"- {name}  {type_token.rsplit(':', 1)[-1]}")
    width = max((len(c.resource) for c in diff.changed), default=0)
    for change in diff.changed:
        lines.append(
            f"~ {change.resource.ljust(width)}  {change.path}: {_short(change.before)} -> {_short(change.after)}"
        )
    return "\n".join(lines)


def load_synth_json(path: Path) -> SynthResult:
    """A graph saved with `edgestack synth STACK --format json > FILE.json`."""
    data = read_json_file(path, DiffInputError)
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise DiffInputError(f"{path}: not a synth graph (expected the output of `edgestack synth --format json`)")
    resources = []
    for index, item in enumerate(data["resources"]):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("type"), str)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("inputs"), dict)
        ):
            raise DiffInputError(f"{path}: resources[{index}]: needs string type and name and an inputs object")
        resources.append(
            SynthResource(
                type=item["type"],
                name=item["name"],
                inputs=item["inputs"],
                protect=bool(item.get("protect", False)),
                parent=item.get("parent") if isinstance(item.get("parent"), str) else None,
                depends_on=tuple(str(d) for d in item.get("depends_on") or ()),
            )
        )
    outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
    stack = data.get("stack") if isinstance(data.get("stack"), str) else path.name
    return SynthResult(stack=str(stack), resources=tuple(resources), outputs=dict(outputs or {}))
