"""The CI pipeline in .github/workflows/ is valid against GitHub's workflow JSON schema.

The schema is the copy vendored by `check-jsonschema` (SchemaStore's github-workflow.json), so the
check runs offline: `check-jsonschema --builtin-schema vendor.github-workflows FILE`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).resolve().parent.parent / ".github" / "workflows").glob("*.yml"))


def check(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    return subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, check=False)


def test_there_are_pull_request_release_and_rollback_workflows():
    assert [p.name for p in WORKFLOWS] == ["pull-request.yml", "release.yml", "rollback.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(workflow):
    result = check(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    text = (WORKFLOWS[1]).read_text().replace("runs-on: ubuntu-latest", "runs-on: [1, 2]", 1)
    broken.write_text(text.replace("timeout-minutes: 20", "timeout-minutes: soon", 1))
    result = check(broken)
    assert result.returncode == 1
    assert "timeout-minutes" in result.stdout or "runs-on" in result.stdout


def test_release_promotes_the_built_artifact_and_gates_100_percent_on_approval():
    text = (WORKFLOWS[1]).read_text()
    assert ".venv/bin/edgestack build prod -o dist" in text
    assert "--percent 10" in text and "--percent 100" in text and "edgestack mark-stable prod" in text
    assert "environment: production  # required reviewers" in text
    assert "pulumi/auth-actions@v1" in text and "id-token: write" in text
