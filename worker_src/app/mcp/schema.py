"""The subset of JSON Schema the MCP tools declare, and a check of tool arguments against it.

A violation is a JSON-RPC invalid-params error naming the field (`arguments.top_k: ...`); what
passes here may still fail in the feature (an unknown document), which is a tool error instead.
"""

from __future__ import annotations

from typing import Any

from .jsonrpc import INVALID_PARAMS, RequestId, RpcError

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _is(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[kind])


def check_value(value: Any, schema: dict[str, Any], path: str) -> str | None:
    """Why `value` does not fit `schema`, or None."""
    kinds = schema.get("type")
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is(value, k) for k in allowed):
            return f"{path}: must be {' or '.join(allowed)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: must be one of {', '.join(map(str, schema['enum']))}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path}: must not be empty" if schema["minLength"] == 1 else f"{path}: is too short"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{path}: must be at most {schema['maxLength']} characters"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: must be at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: must be at most {schema['maximum']}"
    if isinstance(value, dict) and "properties" in schema:
        properties: dict[str, Any] = schema["properties"]
        for name in schema.get("required", ()):
            if name not in value:
                return f"{path}.{name}: is required"
        if schema.get("additionalProperties") is False:
            unknown = sorted(set(value) - set(properties))
            if unknown:
                return (
                    f"{path}.{unknown[0]}: is not an argument of this tool (known: {', '.join(properties)})"
                )
        for name, item in value.items():
            if name in properties:
                problem = check_value(item, properties[name], f"{path}.{name}")
                if problem:
                    return problem
    return None


def check_arguments(arguments: Any, schema: dict[str, Any], request_id: RequestId | None) -> dict[str, Any]:
    """The arguments when they fit the tool's `inputSchema`; else RpcError(INVALID_PARAMS)."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "invalid params: 'arguments' must be an object", request_id)
    problem = check_value(arguments, schema, "arguments")
    if problem:
        field = problem.split(":", 1)[0]
        raise RpcError(INVALID_PARAMS, f"invalid params: {problem}", request_id, {"field": field})
    return arguments
