"""Planned Worker bindings to provider binding fields (each binding type knows its own: `wire_fields`).

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
from infra.plan.worker_model import WorkerBinding

BindingFields = dict[str, Any]


def waits_for(planned: PlannedResource, created: Mapping[str, pulumi.Resource]) -> list[pulumi.Resource]:
    """The resources `planned` must wait for, in the plan's order (`PlannedResource.depends_on`):
    the plan is the only source of ordering. `created` maps logical names to resources."""
    return [created[name] for name in planned.depends_on]


def binding_fields(binding: WorkerBinding, deployed: Mapping[str, pulumi.Input[str]]) -> BindingFields:
    """The binding's provider fields: its plan-time wire fields, plus its `deployed_field` from
    `deployed` (binding name -> a created resource's id or name, or a secret's value)."""
    fields: BindingFields = binding.wire_fields()
    if binding.deployed_field is not None:
        fields[binding.deployed_field] = deployed[binding.name]
    return fields


def version_binding_args(fields: BindingFields) -> cloudflare.WorkerVersionBindingArgsDict:
    return cast(cloudflare.WorkerVersionBindingArgsDict, dict(fields))


def script_binding_args(fields: BindingFields) -> cloudflare.WorkersScriptBindingArgsDict:
    return cast(cloudflare.WorkersScriptBindingArgsDict, dict(fields))
