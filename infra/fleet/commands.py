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

from ..bundler import DEFAULT_WORKER_SRC, load_bundle
from ..errors import StackError
from ..loader import CUSTOMER_PREFIX, STACKS_DIR
from ..planner import PLAN_ERRORS, Component
from ..yaml_source import display_path
from .automation import Operation, PulumiCliMissingError, pulumi_runner, require_cli
from .customers import CustomerError, CustomerRequest, new_customer, removal_steps
from .isolation import fleet_diagnostics
from .matrix import matrix_json, shard, stack_weight
from .members import Fleet, Member, failure_lines, load_fleet, template_path
from .progress import PlainReporter, RichReporter, is_ci, print_summary
from .scheduler import Runner, run_fleet
from .summary import customer_plan, render_summary_table, summarize


class FleetError(Exception):
    """A one-line refusal of a fleet command."""


def _fail(command: str, message: str) -> int:
    print(f"edgestack {command}: {message}", file=sys.stderr)
    return 1


# --- shared steps --------------------------------------------------------------------------------


def fleet_problems(fleet: Fleet) -> list[str]:
    """Every load error (once, naming the stacks a shared file breaks) and every collision."""
    return failure_lines(fleet.failures) + [str(d) for d in fleet_diagnostics(fleet.members)]


def checked_fleet(command: str, stacks_dir: Path, worker_src: Path | None) -> Fleet:
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


def customer_new(
    request: CustomerRequest, *, stacks_dir: Path = STACKS_DIR, worker_src: Path | None = None
) -> int:
    try:
        created = new_customer(stacks_dir, request, worker_src=worker_src)
    except CustomerError as exc:
        return _fail("customer new", str(exc))
    ids = ", ".join(str(i) for i in created.namespace_ids) or "none"
    print(
        f"wrote {display_path(created.path)} (stack {CUSTOMER_PREFIX}{request.name}, rate-limit namespace_id {ids})"
    )
    return 0


def customer_remove(name: str, *, stacks_dir: Path = STACKS_DIR) -> int:
    try:
        steps = removal_steps(stacks_dir, name)
    except CustomerError as exc:
        return _fail("customer remove", str(exc))
    print(f"To remove customer {name} (nothing was changed):")
    for step in steps:
        print(f"  {step}")
    return 0


# --- fleet validate / matrix / synth ------------------------------------------------------------------


def fleet_validate(*, stacks_dir: Path = STACKS_DIR, worker_src: Path | None = None) -> int:
    fleet = load_fleet(stacks_dir, worker_src=worker_src)
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
    stacks_dir: Path = STACKS_DIR,
    worker_src: Path | None = None,
) -> int:
    if shards < 1:
        return _fail("fleet matrix", f"--shards must be at least 1, got {shards}")
    try:
        members = select_customers(checked_fleet("fleet matrix", stacks_dir, worker_src), only)
    except FleetError as exc:
        return _fail("fleet matrix", str(exc))
    weights = {m.customer or m.name: stack_weight(m.stack) for m in members}
    print(matrix_json(shard(weights, shards)))
    return 0


def fleet_synth(
    *,
    only: Sequence[str] | None = None,
    output_format: str = "table",
    stacks_dir: Path = STACKS_DIR,
    worker_src: Path = DEFAULT_WORKER_SRC,
) -> int:
    try:
        members = select_customers(checked_fleet("fleet synth", stacks_dir, worker_src), only)
        summaries = summarize(members, load_bundle(worker_src), template_path(stacks_dir))
    except FleetError as exc:
        return _fail("fleet synth", str(exc))
    except StackError as exc:
        return _fail("fleet synth", str(exc.diagnostics[0]))
    except PLAN_ERRORS as exc:
        return _fail("fleet synth", str(exc))
    if output_format == "json":
        print(json.dumps([s.to_json() for s in summaries], indent=2))
    else:
        print(render_summary_table(summaries))
    return 0


# --- fleet preview / up / refresh / destroy -------------------------------------------------------------


def protected_resources(member: Member, worker_src: Path) -> list[str]:
    the_plan = customer_plan(member, load_bundle(worker_src))
    return [r.name for r in the_plan.resources() if r.protect]


def expected_steps(member: Member, worker_src: Path) -> int:
    """Resources the engine reports for the stack: planned resources, their components, the stack."""
    resources = customer_plan(member, load_bundle(worker_src)).resources()
    components: set[Component] = {r.component for r in resources}
    return len(resources) + len(components) + 1


def check_destroy(members: Sequence[Member], confirm: Sequence[str], worker_src: Path) -> None:
    confirmed = {c.removeprefix(CUSTOMER_PREFIX) for c in confirm}
    missing = [m.customer for m in members if m.customer not in confirmed]
    if missing:
        flags = " ".join(f"--confirm {name}" for name in missing)
        raise FleetError(f"destroy needs --confirm NAME for each customer; add {flags}")
    for member in members:
        protected = protected_resources(member, worker_src)
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
    stacks_dir: Path = STACKS_DIR,
    worker_src: Path = DEFAULT_WORKER_SRC,
    runner: Runner | None = None,
    stop: threading.Event | None = None,
) -> int:
    """`fleet preview|up|refresh|destroy`. `runner` replaces the Automation API (tests)."""
    command = f"fleet {operation.value}"
    if concurrency < 1:
        return _fail(command, f"--concurrency must be at least 1, got {concurrency}")
    try:
        members = select_customers(checked_fleet(command, stacks_dir, worker_src), only)
        if operation is Operation.DESTROY:
            check_destroy(members, confirm, worker_src)
        if runner is None:
            require_cli()
            runner = pulumi_runner(operation)
        expected = {m.name: expected_steps(m, worker_src) for m in members}
    except (FleetError, PulumiCliMissingError) as exc:
        return _fail(command, str(exc))
    except StackError as exc:
        return _fail(command, str(exc.diagnostics[0]))
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
