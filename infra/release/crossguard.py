"""The release policy rules as a Pulumi CrossGuard pack (`policy/`), on pulumi-policy's own types.

Each rule of `infra.release.policy` becomes one `StackValidationPolicy` whose callback turns the
preview's `PolicyResource`s into the same `Graph` `edgestack policy check` builds from synth and
runs the same rule function. The stack file (environment, zones, exemptions) is found through the
Worker's `EDGESTACK_STACK` binding, as the program itself picks it from the Pulumi stack name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.spec import Stack
from infra.stackfile.diagnostics import StackError
from infra.stackfile.load import load_stack
from infra.stackfile.names import resolve_stack_path

from .graph import Graph, GraphResource
from .policy import RULES, PolicyContext, Rule, run_rule

PACK_NAME = "edgestack-release"
_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def plain(value: Any) -> Any:
    """pulumi-policy's property proxies as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def graph_from_policy_resources(resources: Sequence[PolicyResource]) -> Graph:
    return Graph(
        tuple(
            GraphResource(r.resource_type, r.name, plain(r.props), bool(r.opts.protect)) for r in resources
        )
    )


StackLoader = Callable[[str], Stack]


def load_stack_named(name: str) -> Stack:
    """The stack file the program picks for Pulumi stack `name` (raises `StackError`)."""
    return load_stack(resolve_stack_path(name))


def context_for(graph: Graph, today: dt.date, load: StackLoader = load_stack_named) -> PolicyContext | str:
    """The rules' context, or why the pack does not apply to this stack."""
    name = graph.stack_name()
    if name is None:
        return "no edgestack Worker (EDGESTACK_STACK binding) in this stack"
    try:
        stack = load(name)
    except StackError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"stack file for {name} cannot be loaded: {first}"
    return PolicyContext.from_stack(name, stack, today=today)


def validation(
    rule: Rule, today: Callable[[], dt.date], load: StackLoader
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        graph = graph_from_policy_resources(args.resources)
        ctx = context_for(graph, today(), load)
        if isinstance(ctx, str):
            args.not_applicable(ctx)
            return
        urns = {r.name: r.urn for r in args.resources}
        for violation in run_rule(rule, graph, ctx):
            if violation.exemption is None:
                report_violation(violation.message, urns.get(violation.resource))

    return validate


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def policies(
    today: Callable[[], dt.date] = _today, load: StackLoader = load_stack_named
) -> list[StackValidationPolicy]:
    return [
        StackValidationPolicy(
            name=rule.id,
            description=rule.description,
            enforcement_level=_LEVELS[rule.severity],
            validate=validation(rule, today, load),
        )
        for rule in RULES
    ]
