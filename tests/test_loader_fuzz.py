"""Hostile input never escapes as anything but `StackError` with one-line, positioned diagnostics."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.stackfile.diagnostics import StackError
from infra.stackfile.extends import iter_key_paths
from infra.stackfile.load import load_stack
from infra.stackfile.source import parse_yaml
from tests.conftest import FIXTURE_WORKER_SRC, MALFORMED_DIR

VALID_BASE_TEXT = (MALFORMED_DIR / "_parts" / "valid_base.yaml").read_text()
VALID_DOC = yaml.safe_load(VALID_BASE_TEXT)
YAML_TOKENS = [
    "a", "worker", "bindings", "kv", "CACHE", ":", ": ", "- ", "-", " ", "  ", "\n", "\t", "[", "]", "{", "}",
    ",", "&x ", "*x", "<<: ", "!!str ", "!!python/object ", "!foo ", "'", '"', "#", "?", "|", ">", "---\n",
    "...", "null", "~", "true", "yes", "1", "0x1", "1e9", "2026-01-01", "\\", "%YAML 1.1\n", "\x00", "é", "\ufeff",
]  # fmt: skip

# EDGESTACK_FUZZ_EXAMPLES=5000 for a deeper local run.
SETTINGS = settings(max_examples=int(os.environ.get("EDGESTACK_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def assert_only_stack_error(path: Path) -> None:
    try:
        load_stack(path, worker_src=FIXTURE_WORKER_SRC)
    except StackError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            line = str(diagnostic)
            assert "\n" not in line and "\r" not in line
            assert diagnostic.line >= 1 and diagnostic.col >= 1
            assert line.startswith(f"{diagnostic.file}:{diagnostic.line}:{diagnostic.col}: ")


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text(scratch: Path, text: str) -> None:
    path = scratch / "arbitrary.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_only_stack_error(path)


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(scratch: Path, raw: bytes) -> None:
    path = scratch / "bytes.yaml"
    path.write_bytes(raw)
    assert_only_stack_error(path)


@SETTINGS
@given(tokens=st.lists(st.sampled_from(YAML_TOKENS), max_size=60))
def test_yaml_shaped_text(scratch: Path, tokens: list[str]) -> None:
    path = scratch / "tokens.yaml"
    path.write_text("".join(tokens), encoding="utf-8")
    assert_only_stack_error(path)


def leaf_paths(doc: Any) -> list[tuple[Any, ...]]:
    return [p for p in iter_key_paths(doc)]


def set_path(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


junk_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)


@SETTINGS
@given(data=st.data())
def test_mutated_valid_stack(scratch: Path, data: st.DataObject) -> None:
    """Replace random values of a valid stack with junk: the result loads or fails with diagnostics."""
    doc = copy.deepcopy(VALID_DOC)
    paths = leaf_paths(doc)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(paths))
        try:
            set_path(doc, path, data.draw(junk_values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the parent
    path = scratch / "mutated.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert_only_stack_error(path)


def test_deep_nesting_is_a_diagnostic() -> None:
    with pytest.raises(StackError, match="nesting deeper than"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    with pytest.raises(StackError, match="nesting deeper than"):
        parse_yaml("a: " + "[" * 150 + "]" * 150 + "\n", "deep.yaml")


def test_key_with_a_newline_stays_on_one_line(scratch: Path) -> None:
    """Regression (found by test_mutated_valid_stack): a quoted key "0\\n" once split a diagnostic in two."""
    path = scratch / "newline_key.yaml"
    text = VALID_BASE_TEXT.replace("zones:\n", 'zones:\n  "0\\n": 1\n', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StackError) as caught:
        load_stack(path, worker_src=FIXTURE_WORKER_SRC)
    assert any("zones.0\\n" in str(d) for d in caught.value.diagnostics), caught.value.diagnostics
    assert_only_stack_error(path)
