"""Property tests of the `extends:` merge rules documented in docs/stack-files.md."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.stackfile.extends import apply_overlay, merge_layers
from infra.stackfile.load import merge_stack_files

KEYS = st.sampled_from(["a", "b", "c", "d"])  # few keys, so base and overlay collide often
SCALARS = st.one_of(st.integers(-5, 5), st.text(alphabet="xyz", min_size=1, max_size=3), st.booleans())
LEAVES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))



def documents(with_nulls: bool) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.one_of(LEAVES, st.none()) if with_nulls else LEAVES
    value = st.recursive(leaf, lambda inner: st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)
    return st.dictionaries(KEYS, value, max_size=4)


BASES = documents(with_nulls=False)
OVERLAYS = documents(with_nulls=True)
SETTINGS = settings(max_examples=200, deadline=None)


def walk(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) for every entry; dict values are listed and descended into."""
    out = []
    for key, value in doc.items():
        out.append(((*prefix, key), value))
        if isinstance(value, dict):
            out.extend(walk(value, (*prefix, key)))
    return out


def lookup(doc: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for part in path:
        if not isinstance(doc, dict) or part not in doc:
            return False, None
        doc = doc[part]
    return True, doc


def has_nulls(doc: Any) -> bool:
    return any(value is None for _, value in walk(doc)) if isinstance(doc, dict) else False


@SETTINGS
@given(base=BASES, overlay=OVERLAYS)
def test_overlay_scalars_and_lists_win(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    result = apply_overlay(base, overlay)
    for path, value in walk(overlay):
        if value is not None and not isinstance(value, dict):
            assert lookup(result, path) == (True, value)  # lists replace: never concatenated


@SETTINGS
@given(base=BASES, overlay=OVERLAYS)
def test_null_deletes(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    result = apply_overlay(base, overlay)
    for path, value in walk(overlay):
        if value is None:
            assert not lookup(result, path)[0]
    assert not has_nulls(result)


@SETTINGS
@given(base=BASES, overlay=OVERLAYS)
def test_maps_merge_deeply(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    """A base entry survives unless the overlay names it or replaces one of its ancestors."""
    result = apply_overlay(base, overlay)
    for path, value in walk(base):
        ancestors_merge = all(
            (not lookup(overlay, path[:i])[0]) or isinstance(lookup(overlay, path[:i])[1], dict)
            for i in range(1, len(path))
        )
        if ancestors_merge and not lookup(overlay, path)[0]:
            assert lookup(result, path) == (True, value)


@SETTINGS
@given(base=BASES, overlay=OVERLAYS)
def test_no_invented_keys_and_base_order_kept(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    result = apply_overlay(base, overlay)
    for path, _ in walk(result):
        assert lookup(base, path)[0] or lookup(overlay, path)[0]
    kept = [k for k in base if k in result]
    assert list(result)[: len(kept)] == kept  # base keys first, in the base's order


@SETTINGS
@given(base=BASES, overlay=OVERLAYS, extra=st.dictionaries(st.sampled_from(["p", "q"]), LEAVES, max_size=2))
def test_result_is_independent_of_unrelated_base_keys(
    base: dict[str, Any], overlay: dict[str, Any], extra: dict[str, Any]
) -> None:
    assert apply_overlay({**base, **extra}, overlay) == {**apply_overlay(base, overlay), **extra}


@SETTINGS
@given(base=BASES, overlay=OVERLAYS)
def test_inputs_are_not_modified(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    before = copy.deepcopy((base, overlay))
    apply_overlay(base, overlay)
    assert (base, overlay) == before


@SETTINGS
@given(base=BASES, overlay=OVERLAYS)
def test_identity_and_idempotence(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    assert apply_overlay(base, {}) == base
    once = apply_overlay(base, overlay)
    assert apply_overlay(once, overlay) == once
    assert apply_overlay({}, apply_overlay({}, overlay)) == apply_overlay({}, overlay)


def test_examples_from_the_docs() -> None:
    base = {"worker": {"vars": {"A": "1", "B": "2"}, "crons": ["0 3 * * *"]}, "rag": {"top_k": 5}}
    overlay = {"worker": {"vars": {"B": None, "C": "3"}, "crons": ["*/5 * * * *"]}, "rag": None}
    assert apply_overlay(base, overlay) == {
        "worker": {"vars": {"A": "1", "C": "3"}, "crons": ["*/5 * * * *"]}
    }


# --- files: chains, lists of bases, and how they group -------------------------------------------

FILE_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def write_layers(folder: Path, layers: list[dict[str, Any]], runs: list[int]) -> Path:
    """Write `layers` as files grouped by `runs` (sizes of consecutive runs of layers).

    Inside a run each file extends the previous one (a chain); the top file extends the last file of
    every run, as a list. Any grouping must give the same result as the flat left fold.
    """
    folder.mkdir(parents=True, exist_ok=True)
    run_tops: list[str] = []
    index = 0
    for run, size in enumerate(runs):
        previous: str | None = None
        for offset in range(size):
            name = f"run{run}_{offset}.yaml"
            body = {"extends": previous, **layers[index]} if previous else dict(layers[index])
            (folder / name).write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
            previous = name
            index += 1
        assert previous is not None
        run_tops.append(previous)
    assert index == len(layers)
    top = folder / "top.yaml"
    top.write_text(yaml.safe_dump({"extends": run_tops}), encoding="utf-8")
    return top


def groupings(count: int) -> st.SearchStrategy[list[int]]:
    """Ways to cut `count` layers into consecutive runs."""
    return st.lists(st.booleans(), min_size=max(count - 1, 0), max_size=max(count - 1, 0)).map(
        lambda cuts: _runs(count, cuts)
    )


def _runs(count: int, cuts: list[bool]) -> list[int]:
    runs, size = [], 1 if count else 0
    for cut in cuts:
        if cut:
            runs.append(size)
            size = 1
        else:
            size += 1
    if count:
        runs.append(size)
    return runs


@FILE_SETTINGS
@given(data=st.data(), layers=st.lists(OVERLAYS, min_size=1, max_size=4))
def test_chain_grouping_is_associative(data: st.DataObject, layers: list[dict[str, Any]]) -> None:
    """`a extends b extends c` == `a extends [c, b]` == any other grouping of the same layer order."""
    expected = merge_layers(layers)
    with tempfile.TemporaryDirectory() as tmp:
        tops = [
            write_layers(Path(tmp) / "chain", layers, [len(layers)]),
            write_layers(Path(tmp) / "flat", layers, [1] * len(layers)),
            write_layers(Path(tmp) / "grouped", layers, data.draw(groupings(len(layers)))),
        ]
        for top in tops:
            doc, sources = merge_stack_files(top)
            assert doc == expected
            assert "extends" not in doc and ("extends",) not in sources


@FILE_SETTINGS
@given(base=BASES, overlay=OVERLAYS)
def test_overlay_positions_win(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
        top = Path(tmp) / "top.yaml"
        top.write_text(yaml.safe_dump({"extends": "base.yaml", **overlay}), encoding="utf-8")
        doc, sources = merge_stack_files(top)
        for path, value in walk(overlay):
            if value is not None:
                assert sources[path].file.endswith("top.yaml")
        for path, _ in walk(doc):
            if not lookup(overlay, path)[0]:
                assert sources[path].file.endswith("base.yaml")
