"""The `edgestack customer ...` and `edgestack fleet ...` commands as plain functions (typed arguments,
exit code). The CLI layer only parses arguments and calls these.

Every refusal raises a one-line `FleetError` (or another `EdgestackError`) before any file is written
or stack touched; the CLI's one handler prints it as `edgestack <command>: <message>`, exit 1.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import EdgestackError
from ..plan.bundle import load_bundle
from ..plan.planned_resource import Token
from ..stackfile.diagnostics import OneLineError, StackError
from ..stackfile.names import CUSTOMER_PREFIX
from ..stackfile.source import display_path
from ..terminal import print_table
from .automation import Operation, pulumi_runner, require_cli
from .customers import CustomerRequest, new_customer, removal_steps
from .isolation import fleet_diagnostics
from .matrix import matrix_json, shard, stack_weight
from .members import Fleet, Member, failure_lines, load_fleet, stacks_folder, template_path
from .progress import PlainReporter, RichReporter, is_ci, print_summary
from .scheduler import Runner, run_fleet
from .summary import SUMMARY_HEADERS, customer_plan, summarize, summary_rows


class FleetError(EdgestackError):
    """A one-line refusal of a fleet command."""


@contextmanager
def _first_diagnostic() -> Iterator[None]:
    """A fleet command reports a stack that does not load by its first diagnostic, on one line."""
    try:
        yield
    except OneLineError as exc:
        raise FleetError(str(exc)) from None
    except StackError as exc:
        raise FleetError(str(exc.diagnostics[0])) from None


# --- shared steps --------------------------------------------------------------------------------


def fleet_problems(fleet: Fleet) -> list[str]:
    """Every load error (once, naming the stacks a shared file breaks) and every collision."""
    return failure_lines(fleet.failures) + [str(d) for d in fleet_diagnostics(fleet.members)]


def checked_fleet(stacks_dir: Path | None, worker_src: Path | None) -> Fleet:
    """The loaded fleet; raises FleetError (after printing each problem) unless it validates."""
    with _first_diagnostic():
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


def customer_new(
    request: CustomerRequest, *, stacks_dir: Path | None = None, worker_src: Path | None = None
) -> int:
    with _first_diagnostic():
        created = new_customer(stacks_folder(stacks_dir), request, worker_src=worker_src)
    ids = ", ".join(str(i) for i in created.namespace_ids) or "none"
    print(
        f"wrote {display_path(created.path)} (stack {CUSTOMER_PREFIX}{request.name}, rate-limit namespace_id {ids})"
    )
    return 0


def customer_remove(name: str, *, stacks_dir: Path | None = None) -> int:
    with _first_diagnostic():
        steps = removal_steps(stacks_folder(stacks_dir), name)
    print(f"To remove customer {name} (nothing was changed):")
    for step in steps:
        print(f"  {step}")
    return 0


# --- fleet validate / matrix / synth ------------------------------------------------------------------


def fleet_validate(*, stacks_dir: Path | None = None, worker_src: Path | None = None) -> int:
    with _first_diagnostic():
        fleet = load_fleet(stacks_dir, worker_src=worker_src)
    problems = fleet_problems(fleet)
    for line in problems:
        print(line)
    stacks = len(fleet.members) + len(fleet.failures)
    accounts = len({m.stack.account_id for m in fleet.members})
    if problems:
        raise FleetError(f"{len(problems)} problem(s) in a fleet of {stacks} stack(s)")
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
        raise FleetError(f"--shards must be at least 1, got {shards}")
    members = select_customers(checked_fleet(stacks_dir, worker_src), only)
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
    fleet = checked_fleet(stacks_dir, worker_src)
    members = select_customers(fleet, only)
    with _first_diagnostic():
        summaries = summarize(
            members, load_bundle(worker_src), template_path(fleet.stacks_dir), project_dir=fleet.project_dir
        )
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
        raise FleetError(f"--concurrency must be at least 1, got {concurrency}")
    fleet = checked_fleet(stacks_dir, worker_src)
    members = select_customers(fleet, only)
    with _first_diagnostic():
        if operation is Operation.DESTROY:
            check_destroy(fleet, members, confirm)
        if runner is None:
            require_cli()
            runner = pulumi_runner(operation, fleet.project_dir)
        expected = {m.name: expected_steps(fleet, m) for m in members}
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
