"""The `edgestack customer ...` and `edgestack fleet ...` commands as plain functions (typed arguments,
exit code). The CLI layer only parses arguments and calls these.

Every refusal is one line on stderr and exit 1, before any file is written or stack touched.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ..plan.bundle import load_bundle
from ..plan.planned_resource import Token
from ..plan.planner import PLAN_ERRORS
from ..stackfile.diagnostics import OneLineError, StackError
from ..stackfile.names import CUSTOMER_PREFIX
from ..stackfile.source import display_path
from ..terminal import print_table
from .automation import Operation, PulumiCliMissingError, pulumi_runner, require_cli
from .customers import CustomerError, CustomerRequest, new_customer, removal_steps
from .isolation import fleet_diagnostics
from .matrix import matrix_json, shard, stack_weight
from .members import Fleet, Member, failure_lines, load_fleet, stacks_folder, template_path
from .progress import PlainReporter, RichReporter, is_ci, print_summary
from .scheduler import Runner, run_fleet
from .summary import SUMMARY_HEADERS, customer_plan, summarize, summary_rows


class FleetError(Exception):
    """A one-line refusal of a fleet command."""


def _fail(command: str, message: str) -> int:
    print(f"edgestack {command}: {message}", file=sys.stderr)
    return 1


# --- shared steps --------------------------------------------------------------------------------


def fleet_problems(fleet: Fleet) -> list[str]:
    """Every load error (once, naming the stacks a shared file breaks) and every collision."""
    return failure_lines(fleet.failures) + [str(d) for d in fleet_diagnostics(fleet.members)]


def checked_fleet(command: str, stacks_dir: Path | None, worker_src: Path | None) -> Fleet:
    """The loaded fleet; raises FleetError (after printing each problem) unless it validates."""
    fleet = load_fleet(stacks_dir, worker_src=worker_src)
    problems = fleet_problems(fleet)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        raise FleetError(f"the fleet does not validate ({len(problems)} problem(s)); nothing was run")
    return fleet


def select_customers(fleet: Fleet, only: Sequence[str] | None) -> list[Member]:
    """The customers named by `--only a,b` (all when None); unknown names are one error line."""
    customers = {m.customer: m for m in fleet.customers if m.customer is not None}
    if only is None:
        return [customers[name] for name in sorted(customers)]
    wanted = [n.strip().removeprefix(CUSTOMER_PREFIX) for n in only if n.strip()]
    unknown = [n for n in wanted if n not in customers]
    if unknown:
        known = ", ".join(sorted(customers)) or "none"
        raise FleetError(f"--only: unknown customer(s) {', '.join(unknown)} (customers: {known})")
    if not wanted:
        raise FleetError("--only: no customer named")
    return [customers[name] for name in dict.fromkeys(wanted)]


def parse_only(text: str | None) -> list[str] | None:
    return None if text is None else text.split(",")


# --- customer ------------------------------------------------------------------------------------


def _error_line(exc: StackError) -> str:
    return str(exc) if isinstance(exc, OneLineError) else str(exc.diagnostics[0])


def customer_new(
    request: CustomerRequest, *, stacks_dir: Path | None = None, worker_src: Path | None = None
) -> int:
    try:
        created = new_customer(stacks_folder(stacks_dir), request, worker_src=worker_src)
    except CustomerError as exc:
        return _fail("customer new", str(exc))
    except StackError as exc:
        return _fail("customer new", _error_line(exc))
    ids = ", ".join(str(i) for i in created.namespace_ids) or "none"
    print(
        f"wrote {display_path(created.path)} (stack {CUSTOMER_PREFIX}{request.name}, rate-limit namespace_id {ids})"
    )
    return 0


def customer_remove(name: str, *, stacks_dir: Path | None = None) -> int:
    try:
        steps = removal_steps(stacks_folder(stacks_dir), name)
    except CustomerError as exc:
        return _fail("customer remove", str(exc))
    except StackError as exc:
        return _fail("customer remove", _error_line(exc))
    print(f"To remove customer {name} (nothing was changed):")
    for step in steps:
        print(f"  {step}")
    return 0


# --- fleet validate / matrix / synth ------------------------------------------------------------------


def fleet_validate(*, stacks_dir: Path | None = None, worker_src: Path | None = None) -> int:
    try:
        fleet = load_fleet(stacks_dir, worker_src=worker_src)
    except StackError as exc:
        return _fail("fleet validate", _error_line(exc))
    problems = fleet_problems(fleet)
    for line in problems:
        print(line)
    stacks = len(fleet.members) + len(fleet.failures)
    accounts = len({m.stack.account_id for m in fleet.members})
    if problems:
        return _fail("fleet validate", f"{len(problems)} problem(s) in a fleet of {stacks} stack(s)")
    print(
        f"edgestack fleet validate: {stacks} stack(s) ({len(fleet.customers)} customer(s)) in "
        f"{accounts} account(s) OK",
        file=sys.stderr,
    )
    return 0


def fleet_matrix(
    shards: int,
    *,
    only: Sequence[str] | None = None,
    stacks_dir: Path | None = None,
    worker_src: Path | None = None,
) -> int:
    if shards < 1:
        return _fail("fleet matrix", f"--shards must be at least 1, got {shards}")
    try:
        members = select_customers(checked_fleet("fleet matrix", stacks_dir, worker_src), only)
    except FleetError as exc:
        return _fail("fleet matrix", str(exc))
    except StackError as exc:
        return _fail("fleet matrix", _error_line(exc))
    weights = {m.customer or m.name: stack_weight(m.stack) for m in members}
    print(matrix_json(shard(weights, shards)))
    return 0


def fleet_synth(
    *,
    only: Sequence[str] | None = None,
    output_format: str = "table",
    stacks_dir: Path | None = None,
    worker_src: Path | None = None,
) -> int:
    try:
        fleet = checked_fleet("fleet synth", stacks_dir, worker_src)
        members = select_customers(fleet, only)
        summaries = summarize(
            members, load_bundle(worker_src), template_path(fleet.stacks_dir), project_dir=fleet.project_dir
        )
    except FleetError as exc:
        return _fail("fleet synth", str(exc))
    except StackError as exc:
        return _fail("fleet synth", _error_line(exc))
    except PLAN_ERRORS as exc:
        return _fail("fleet synth", str(exc))
    if output_format == "json":
        print(json.dumps([s.to_json() for s in summaries], indent=2))
    else:
        print_table(SUMMARY_HEADERS, summary_rows(summaries))
    return 0


# --- fleet preview / up / refresh / destroy -------------------------------------------------------------


def protected_resources(fleet: Fleet, member: Member) -> list[str]:
    the_plan = customer_plan(member, load_bundle(fleet.worker_src), fleet.project_dir)
    return [r.name for r in the_plan.resources() if r.protect]


def expected_steps(fleet: Fleet, member: Member) -> int:
    """Resources the engine reports for the stack: planned resources, their components, the stack."""
    resources = customer_plan(member, load_bundle(fleet.worker_src), fleet.project_dir).resources()
    components: set[Token] = {r.component for r in resources}
    return len(resources) + len(components) + 1


def check_destroy(fleet: Fleet, members: Sequence[Member], confirm: Sequence[str]) -> None:
    confirmed = {c.removeprefix(CUSTOMER_PREFIX) for c in confirm}
    missing = [m.customer for m in members if m.customer not in confirmed]
    if missing:
        flags = " ".join(f"--confirm {name}" for name in missing)
        raise FleetError(f"destroy needs --confirm NAME for each customer; add {flags}")
    for member in members:
        protected = protected_resources(fleet, member)
        if protected:
            raise FleetError(
                f"{member.name}: {len(protected)} data resource(s) are protected ({', '.join(protected)}); "
                f"to destroy, set `protection: {{data: false}}` in {display_path(member.path)}, run "
                f"`edgestack fleet up --only {member.customer}`, then destroy"
            )


def fleet_run(
    operation: Operation,
    *,
    only: Sequence[str] | None = None,
    concurrency: int = 4,
    continue_on_error: bool = False,
    confirm: Sequence[str] = (),
    stacks_dir: Path | None = None,
    worker_src: Path | None = None,
    runner: Runner | None = None,
    stop: threading.Event | None = None,
) -> int:
    """`fleet preview|up|refresh|destroy`. `runner` replaces the Automation API (tests)."""
    command = f"fleet {operation.value}"
    if concurrency < 1:
        return _fail(command, f"--concurrency must be at least 1, got {concurrency}")
    try:
        fleet = checked_fleet(command, stacks_dir, worker_src)
        members = select_customers(fleet, only)
        if operation is Operation.DESTROY:
            check_destroy(fleet, members, confirm)
        if runner is None:
            require_cli()
            runner = pulumi_runner(operation, fleet.project_dir)
        expected = {m.name: expected_steps(fleet, m) for m in members}
    except (FleetError, PulumiCliMissingError) as exc:
        return _fail(command, str(exc))
    except StackError as exc:
        return _fail(command, _error_line(exc))
    except PLAN_ERRORS as exc:
        return _fail(command, str(exc))
    plain = is_ci()
    reporter: PlainReporter | RichReporter = (
        PlainReporter(operation.value, len(members)) if plain else RichReporter(operation.value, expected)
    )
    with reporter:
        run = run_fleet(
            [m.name for m in members],
            runner,
            concurrency=concurrency,
            continue_on_error=continue_on_error,
            reporter=reporter,
            stop=stop,
        )
    print_summary(run, plain=plain)
    if run.failed:
        print(f"edgestack {command}: {len(run.failed)} of {len(members)} stack(s) failed", file=sys.stderr)
    return run.exit_code
