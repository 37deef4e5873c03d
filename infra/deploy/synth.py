"""Offline synth: run the real Pulumi program under Pulumi's mock runtime and record the graph.

No CLI, no engine, no credentials. A `RecordingMonitor` (a `MockMonitor` subclass, passed to
`pulumi.runtime.set_mocks`) sees every `RegisterResource` request exactly as the engine would:
the serialized inputs (with secret markers in place), `protect`, the parent URN and the
dependency URNs, which the public `Mocks.new_resource` hook does not receive. Stack outputs come
from the root stack's `RegisterResourceOutputs`.

`run_program` resets the Pulumi runtime before each run, so one process can synth many stacks.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from infra.plan.bundle import load_bundle
from infra.plan.model import Plan
from infra.plan.planner import plan

PROJECT = "edgestack"
SECRET = "[secret]"
UNKNOWN = "[unknown]"
STACK_TYPE = "pulumi:pulumi:Stack"
SECRET_PLACEHOLDER = "synth-placeholder-secret"

_SIG_KEY = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig
_ASSET_SIG = rpc._special_asset_sig
_ARCHIVE_SIG = rpc._special_archive_sig


@dataclass(frozen=True)
class SynthResource:
    type: str
    name: str
    inputs: dict[str, Any]
    protect: bool
    parent: str | None
    depends_on: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "depends_on": list(self.depends_on)}


@dataclass(frozen=True)
class SynthResult:
    stack: str
    resources: tuple[SynthResource, ...]
    outputs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }

    def resource(self, name: str) -> SynthResource:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise KeyError(name)

    def of_type(self, type_token: str) -> list[SynthResource]:
        return [r for r in self.resources if r.type == type_token]


# --- protobuf values as the provider receives them -------------------------------------------


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def wire_value(value: struct_pb2.Value, names: Mapping[str, str]) -> Any:
    """A serialized property as JSON: secrets as "[secret]", resource references by name."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return wire_struct(value.struct_value, names)
    if kind == "list_value":
        return [wire_value(v, names) for v in value.list_value.values]
    if kind == "string_value":
        return UNKNOWN if value.string_value == rpc.UNKNOWN else value.string_value
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "bool_value":
        return value.bool_value
    return None


def wire_struct(struct: struct_pb2.Struct, names: Mapping[str, str]) -> Any:
    fields = struct.fields
    if _SIG_KEY in fields:
        signature = fields[_SIG_KEY].string_value
        if signature == _SECRET_SIG:
            return SECRET
        if signature == _RESOURCE_SIG:
            urn = fields["urn"].string_value
            return names.get(urn, urn)
        if signature in (_ASSET_SIG, _ARCHIVE_SIG):
            return {k: wire_value(v, names) for k, v in sorted(fields.items()) if k != _SIG_KEY}
    return {key: wire_value(fields[key], names) for key in sorted(fields)}


# --- the recording monitor ------------------------------------------------------------------


@dataclass
class _Registration:
    type: str
    name: str
    urn: str
    parent_urn: str
    protect: bool
    dependencies: tuple[str, ...]
    inputs: struct_pb2.Struct


@dataclass
class _Recording:
    registrations: list[_Registration] = field(default_factory=list)
    stack_outputs: struct_pb2.Struct | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that also records what the engine would receive for each resource."""

    def __init__(self, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self.recording = _Recording()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.type != STACK_TYPE:
            registration = _Registration(
                type=request.type,
                name=request.name,
                urn=self.make_urn(request.parent, request.type, request.name),
                parent_urn=request.parent,
                protect=bool(request.protect),
                dependencies=tuple(request.dependencies),
                inputs=request.object,  # the SDK never mutates a sent request
            )
            with self.recording.lock:
                self.recording.registrations.append(registration)
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if f"::{STACK_TYPE}::" in request.urn:
            outputs = struct_pb2.Struct()
            outputs.CopyFrom(request.outputs)
            with self.recording.lock:
                self.recording.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)


def mock_id(type_token: str, name: str) -> str:
    return hashlib.sha256(f"{type_token}\0{name}".encode()).hexdigest()[:32]


class StateMocks(mocks.Mocks):
    """Provider stand-in: a deterministic id, the scalar inputs echoed back as outputs, and the
    computed outputs the program reads (`Queue.queueId`, `WorkersScript.migrationTag`).

    Lists and maps are not echoed: the program never reads them back, and echoing the bundle's
    modules would make the SDK deserialize them a second time.
    """

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        resource_id = mock_id(args.typ, args.name)
        state: dict[str, Any] = {
            k: v for k, v in args.inputs.items() if isinstance(v, str | int | float | bool)
        }
        if args.typ == "cloudflare:index/queue:Queue":
            state["queueId"] = resource_id
        elif args.typ == "cloudflare:index/workersScript:WorkersScript":
            migrations = args.inputs.get("migrations") or {}
            state["migrationTag"] = migrations.get("newTag")
        return resource_id, state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


# --- running a program ---------------------------------------------------------------------


def _reset_runtime(
    monitor: RecordingMonitor, stack: str, config: Mapping[str, str], secret_keys: Sequence[str]
) -> None:
    """Fresh Pulumi runtime state for one run (settings, root stack, config)."""
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    # set_mocks registers (and finishes) a root stack of its own; run_in_stack makes the real one.
    settings.ROOT.set(None)
    settings.SETTINGS.outputs = set()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))


def run_program(
    stack: str,
    program: Callable[[], None],
    *,
    config: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
) -> SynthResult:
    """Run `program` as stack `stack` under mocks and return the recorded graph."""
    monitor = RecordingMonitor(StateMocks())
    # A private event loop per run, closed afterwards like `asyncio.run` does: runs cannot see each
    # other's tasks, and a caller that closed or unset the thread's loop does not break synth.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        _reset_runtime(monitor, stack, config or {}, secret_keys)
        _sync_await(run_in_stack(program))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    recording = monitor.recording
    names = {r.urn: r.name for r in recording.registrations}
    resources = [
        SynthResource(
            type=r.type,
            name=r.name,
            inputs=wire_struct(r.inputs, names),
            protect=r.protect,
            parent=names.get(r.parent_urn),
            depends_on=tuple(sorted({names.get(urn, urn) for urn in r.dependencies})),
        )
        for r in recording.registrations
    ]
    resources.sort(key=lambda r: r.name)
    outputs = wire_struct(recording.stack_outputs, names) if recording.stack_outputs is not None else {}
    return SynthResult(stack=stack, resources=tuple(resources), outputs=outputs)


def synth_config(the_plan: Plan, deployed_migration_tag: str | None) -> tuple[dict[str, str], list[str]]:
    """Config for an offline run: a placeholder (marked secret) for every secret binding."""
    from infra.plan.rollout import DEPLOYED_TAG_KEY, full_key

    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for binding in the_plan.secret_bindings:
        key = full_key(binding.config_key)
        config[key] = SECRET_PLACEHOLDER
        secret_keys.append(key)
    if deployed_migration_tag is not None:
        config[full_key(DEPLOYED_TAG_KEY)] = deployed_migration_tag
    return config, secret_keys


def synth_plan(the_plan: Plan, *, deployed_migration_tag: str | None = None) -> SynthResult:
    from infra.deploy.program import build

    def program() -> None:
        build(the_plan)

    config, secret_keys = synth_config(the_plan, deployed_migration_tag)
    return run_program(the_plan.stack_name, program, config=config, secret_keys=secret_keys)


def synth_stack(
    stack_or_path: str,
    *,
    deployed_migration_tag: str | None = None,
    worker_src: Path | None = None,
) -> SynthResult:
    """Load, bundle, plan and synth one stack (a name like `prod` / `customer-acme`, or a path).

    Raises an `EdgestackError` (a `StackError`, or a one-line planning error) before Pulumi runs.
    """
    from infra.stackfile.load import load_stack
    from infra.stackfile.names import resolve_stack_path, stack_name
    from infra.stackfile.project import project_of

    path = resolve_stack_path(stack_or_path)
    worker_src = worker_src or project_of(path).worker_src  # a path from outside: its own project's
    stack = load_stack(path, worker_src=worker_src)
    the_plan = plan(
        stack,
        load_bundle(worker_src),
        stack_name=stack_name(path),
        deployed_migration_tag=deployed_migration_tag,
    )
    return synth_plan(the_plan, deployed_migration_tag=deployed_migration_tag)
