"""Planned Worker bindings to provider binding fields.

One conversion, two argument types: `WorkerVersionBindingArgsDict` for the versioned upload and
`WorkersScriptBindingArgsDict` for the migration-carrying script upload (pulumi-cloudflare's
dict forms of the binding args: same wire format as the `...Args` classes, about half the
serialization cost). Field names follow pulumi-cloudflare 6.x (`namespace_id`, `id` for D1,
`bucket_name`, `index_name`, `class_name`, `queue_name`, `text`, `simple`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pulumi
import pulumi_cloudflare as cloudflare

from infra.plan.planned_resource import PlannedResource
from infra.plan.worker_model import (
    AiBinding,
    DurableObjectBinding,
    PlainTextBinding,
    RateLimitBinding,
    SecretTextBinding,
    WorkerBinding,
)

BindingFields = dict[str, Any]


def waits_for(planned: PlannedResource, created: Mapping[str, pulumi.Resource]) -> list[pulumi.Resource]:
    """The resources `planned` must wait for, in the plan's order (`PlannedResource.depends_on`):
    the plan is the only source of ordering. `created` maps logical names to resources."""
    return [created[name] for name in planned.depends_on]


def static_fields(binding: WorkerBinding, secrets: dict[str, pulumi.Output[str]]) -> BindingFields:
    """Fields of a binding that needs no resource of the plan (everything but storage bindings)."""
    fields: BindingFields = {"name": binding.name, "type": binding.type}
    if isinstance(binding, DurableObjectBinding):
        fields["class_name"] = binding.class_name
    elif isinstance(binding, AiBinding):
        pass
    elif isinstance(binding, RateLimitBinding):
        fields["namespace_id"] = binding.namespace_id
        fields["simple"] = {"limit": binding.limit, "period": binding.period}
    elif isinstance(binding, PlainTextBinding):
        fields["text"] = binding.text
    elif isinstance(binding, SecretTextBinding):
        fields["text"] = secrets[binding.config_key]
    else:
        raise TypeError(f"{binding.name}: {type(binding).__name__} is bound by a resource component")
    return fields


def version_binding_args(fields: BindingFields) -> cloudflare.WorkerVersionBindingArgsDict:
    return cast(cloudflare.WorkerVersionBindingArgsDict, dict(fields))


def script_binding_args(fields: BindingFields) -> cloudflare.WorkersScriptBindingArgsDict:
    return cast(cloudflare.WorkersScriptBindingArgsDict, dict(fields))
