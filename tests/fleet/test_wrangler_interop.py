"""Interop: wrangler validates our `edgestack wrangler-config` export with its own schema.

One module-scoped run: every shipped stack plus two customers made by `customer new` are exported with
the real CLI, then each goes through `wrangler deploy --dry-run` (the pinned wrangler from
`runtime/package.json`, offline: see `infra.fleet.wrangler_check`), two at a time. Each stack's test
then checks the exit code and that the bindings wrangler prints (name, type, and the resource name or
value in parentheses) are exactly the plan's bindings, secrets excepted (wrangler never sees them).
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from infra.cli import main
from infra.fleet.customers import CustomerRequest, new_customer
from infra.fleet.wrangler_check import WRANGLER, DryRun, PrintedBinding, dry_run, expected_bindings
from infra.plan.bundle import load_bundle
from infra.plan.planner import plan
from infra.stackfile.load import load_stack
from infra.stackfile.names import list_stack_files, stack_name
from tests.fleet.conftest import REPO, make_project

STACKS_DIR = REPO / "stacks"
SHIPPED = [stack_name(p, STACKS_DIR) for p in list_stack_files(STACKS_DIR)]
GENERATED = ["customer-initech", "customer-hooli"]


@dataclass(frozen=True)
class Checked:
    run: DryRun
    expected: list[PrintedBinding]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Checked]:
    if shutil.which("node") is None:
        pytest.skip("needs Node.js (scripts/setup installs the runtime's npm packages)")
    assert WRANGLER.exists(), "wrangler is not installed in runtime/node_modules: run scripts/setup"
    work = tmp_path_factory.mktemp("wrangler")
    stacks = make_project(work / "project")
    for name, zone in (("initech", "1a" * 16), ("hooli", "2b" * 16)):
        new_customer(stacks, CustomerRequest(name, zone, f"ai.{name}.example"))
    paths = {stack_name(p, STACKS_DIR): p for p in list_stack_files(STACKS_DIR)}
    paths.update({f"customer-{n}": stacks / "customers" / f"{n}.yaml" for n in ("initech", "hooli")})
    configs = {}
    for name, path in paths.items():
        config = work / f"{name}.jsonc"
        assert main(["wrangler-config", str(path), "-o", str(config)]) == 0
        configs[name] = config
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(configs, pool.map(lambda c: dry_run(c, work), configs.values()), strict=True))
    bundle = load_bundle()
    # stack_name(path) as the export computes it (a file outside stacks/ is named by its stem).
    return {
        name: Checked(
            runs[name], expected_bindings(plan(load_stack(path), bundle, stack_name=stack_name(path)))
        )
        for name, path in paths.items()
    }


@pytest.mark.parametrize("name", SHIPPED + GENERATED)
def test_wrangler_dry_run_accepts_the_export_with_the_same_bindings(
    checked: dict[str, Checked], name: str
) -> None:
    result = checked[name]
    assert result.run.returncode == 0, result.run.output[-2000:]
    assert "--dry-run: exiting now." in result.run.output
    assert result.run.bindings == result.expected
    assert result.expected  # not vacuous: every stack binds at least its EDGESTACK_* vars


def test_the_dry_runs_stayed_offline(checked: dict[str, Checked]) -> None:
    """No update notice: the npm update check could not reach a registry (see wrangler_check)."""
    for result in checked.values():
        assert "update available" not in result.run.output
