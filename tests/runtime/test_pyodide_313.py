"""The Python 3.13 line (Pyodide 0.28, `python_workers_20250116`): a smoke test on the same host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import FIXTURES
from .harness import RunningRuntime, start_runtime


@pytest.fixture(scope="module")
def runtime_313(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    folder = tmp_path_factory.mktemp("py313")
    stack = (FIXTURES / "stack.yaml").read_text(encoding="utf-8")
    stack = stack.replace('python: "3.14"', 'python: "3.13"').replace(
        "migrations: migrations", f"migrations: {FIXTURES / 'migrations'}"
    )
    stack_file = folder / "stack.yaml"
    stack_file.write_text(stack, encoding="utf-8")
    runtime = start_runtime(stack_file, FIXTURES / "worker", folder / "state")
    try:
        yield runtime
    finally:
        runtime.stop()


def test_runs_on_pyodide_0_28(runtime_313: RunningRuntime) -> None:
    assert runtime_313.session.runtime is not None
    ready = runtime_313.session.runtime.ready
    assert ready is not None and ready.pyodide.startswith("0.28.")
    with runtime_313.client() as client:
        assert client.get("/hello").text == "hello from GET"
        client.get("/kv/put", params={"k": "a", "v": "313"}).raise_for_status()
        assert client.get("/kv/get", params={"k": "a"}).json() == {"value": "313"}
        assert client.get("/d1/add", params={"name": "x"}).json() == {"changes": 1}
        assert client.get("/do/inc", params={"name": "n"}).json() == {"n": 1}
        assert client.get("/rpc/add", params={"name": "n", "by": "2"}).json() == {"total": 3}
        assert client.get("/boom").status_code == 500
        assert client.get("/hello").status_code == 200
