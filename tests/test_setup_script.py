"""`scripts/setup` (what the README's two commands run first) says what it does: one line per step,
with its time, and nothing else when all goes well. Re-running it is cheap (it is idempotent)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_setup_prints_each_step_with_its_time_and_nothing_else() -> None:
    ran = subprocess.run(["bash", "scripts/setup"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert [re.sub(r"\(\d+ s\)$", "(N s)", line) for line in lines] == [
        "setup: Python packages (.venv, pinned by constraints.txt) ... ok (N s)",
        "setup: workers-runtime-sdk wheel ... ok (N s)",
        "setup: local runtime npm packages (runtime/node_modules) ... (up to date) ok (N s)",
    ]
    assert ran.stderr == ""


def test_the_readme_quick_start_has_two_commands_and_says_how_to_pick_a_port_and_reset() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^ *(scripts/\w+)\s*$", quick_start, re.MULTILINE)  # a fenced block of its own
    assert commands == ["scripts/dev", "scripts/test"]
    assert "scripts/dev --port 8788" in quick_start and "rm -rf .edgestack/state" in quick_start
