"""Metadata filters: `$eq`, `$ne`, `$in`, `$nin` on the stack's `rag.filter_keys`.

One filter is checked once, then applied in three places: passed to Vectorize (with the tenant
clause added), compiled to SQL over the keyword rows' JSON metadata, and evaluated in Python.
Semantics are Vectorize's: a value that is missing equals only `null`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, Literal, NamedTuple

from ..web.errors import bad_request

Op = Literal["$eq", "$ne", "$in", "$nin"]
OPERATORS: tuple[Op, ...] = ("$eq", "$ne", "$in", "$nin")
Scalar = str | int | float | bool | None
MAX_VALUES = 50
MAX_FILTER_JSON_BYTES = 2048  # Vectorize: the compact filter JSON is under 2048 bytes
TENANT_KEY = "tenant"


class Clause(NamedTuple):
    key: str
    op: Op
    values: tuple[Scalar, ...]  # one value for $eq/$ne


class Filter(NamedTuple):
    clauses: tuple[Clause, ...] = ()

    def to_vectorize(self, tenant: str) -> dict[str, Any]:
        out: dict[str, Any] = {TENANT_KEY: {"$eq": tenant}}
        for clause in self.clauses:
            operand = clause.values[0] if clause.op in ("$eq", "$ne") else list(clause.values)
            out[clause.key] = {clause.op: operand}
        return out

    def to_sql(self, column: str) -> tuple[str, list[Any]]:
        """`AND ...` over the JSON metadata in `column`, typed as Vectorize compares (true is not 1)."""
        parts: list[str] = []
        params: list[Any] = []
        for clause in self.clauses:
            path = '$."' + clause.key + '"'
            tests = []
            for item in clause.values:
                sql, values = _equals_sql(column, path, item)
                tests.append(sql)
                params.extend(values)
            any_equal = "(" + " OR ".join(tests) + ")"
            parts.append(f"NOT {any_equal}" if clause.op in ("$ne", "$nin") else any_equal)
        return "".join(f" AND {p}" for p in parts), params

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        for clause in self.clauses:
            present = metadata.get(clause.key)
            equal = any(_equal(present, item) for item in clause.values)
            if equal == (clause.op in ("$ne", "$nin")):
                return False
        return True


def _equals_sql(column: str, path: str, item: Scalar) -> tuple[str, list[Any]]:
    kind = f"json_type({column}, ?)"
    if item is None:  # missing or JSON null
        return f"coalesce({kind}, 'null') = 'null'", [path]
    if isinstance(item, bool):
        return f"coalesce({kind} = ?, 0)", [path, "true" if item else "false"]
    value = f"json_extract({column}, ?)"
    if isinstance(item, str):
        return f"coalesce({kind} = 'text' AND {value} = ?, 0)", [path, path, item]
    return f"coalesce({kind} IN ('integer', 'real') AND {value} = ?, 0)", [path, path, item]


def _equal(present: Any, item: Scalar) -> bool:
    if item is None or present is None:
        return item is None and present is None
    if isinstance(item, bool) or isinstance(present, bool):
        return isinstance(item, bool) and isinstance(present, bool) and item == present
    return (
        type(item) is type(present)
        and item == present
        or (isinstance(item, int | float) and isinstance(present, int | float) and item == present)
    )


def _scalar(value: Any, where: str) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise bad_request(f"{where} must be a string, number, boolean or null", where)


def parse_filter(raw: Any, allowed_keys: Collection[str]) -> Filter:
    """A request's `filter`; 400 naming `filter.<key>` for unknown keys or operators."""
    if raw is None:
        return Filter()
    if not isinstance(raw, dict):
        raise bad_request("'filter' must be an object of key -> value or {operator: value}", "filter")
    if len(json.dumps(raw, separators=(",", ":")).encode()) >= MAX_FILTER_JSON_BYTES:
        raise bad_request(f"'filter' must be under {MAX_FILTER_JSON_BYTES} bytes of JSON", "filter")
    clauses = []
    for key, spec in raw.items():
        where = f"filter.{key}"
        if key == TENANT_KEY:
            raise bad_request(
                "filter key 'tenant' is reserved: every query is scoped to the caller's tenant", where
            )
        if key not in allowed_keys:
            known = ", ".join(sorted(allowed_keys)) or "none (set rag.filter_keys)"
            raise bad_request(f"filter key {key!r} is not filterable (filterable: {known})", where)
        if not isinstance(spec, dict):
            clauses.append(Clause(key, "$eq", (_scalar(spec, where),)))
            continue
        if len(spec) != 1:
            raise bad_request(f"{where} must hold exactly one operator ({', '.join(OPERATORS)})", where)
        op, operand = next(iter(spec.items()))
        if op not in OPERATORS:
            raise bad_request(
                f"unknown filter operator {op!r} at {where} (supported: {', '.join(OPERATORS)})",
                f"{where}.{op}",
            )
        if op in ("$eq", "$ne"):
            clauses.append(Clause(key, op, (_scalar(operand, f"{where}.{op}"),)))
            continue
        if not isinstance(operand, list) or not operand or len(operand) > MAX_VALUES:
            raise bad_request(f"{where}.{op} must be a list of 1 to {MAX_VALUES} values", f"{where}.{op}")
        clauses.append(Clause(key, op, tuple(_scalar(v, f"{where}.{op}") for v in operand)))
    return Filter(tuple(clauses))
