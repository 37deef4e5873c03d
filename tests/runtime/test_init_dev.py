"""`edgestack init DIR && cd DIR && edgestack dev`: the new project serves chat offline at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def test_dev_serves_chat_in_a_fresh_project(tmp_path: Path) -> None:
    project = tmp_path / "fresh"
    cli = [sys.executable, "-c", "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))"]
    assert subprocess.run([*cli, "init", str(project)], cwd=tmp_path, check=False, timeout=60).returncode == 0
    process = subprocess.Popen(
        [*cli, "dev", "--port", "0", "--embedder", "hashing"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": ""},
    )
    try:
        assert process.stdout is not None
        lines = []
        url = None
        for line in process.stdout:
            lines.append(line)
            if match := re.search(r"Listening on (http://127\.0\.0\.1:\d+)", line):
                url = match.group(1)
            if line.startswith("Ready in"):
                break
        assert url, "".join(lines)
        reply = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "chat", "messages": [{"role": "user", "content": "Hello!"}]},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["message"]["content"].endswith("heard: Hello!")
        assert (project / ".edgestack" / "state").is_dir()  # the new project's own state
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
