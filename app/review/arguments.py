"""Checking a model's tool arguments against the tool's JSON Schema, before anyone runs the tool.

Covers what our schemas (generated from pydantic models, see `ToolSpec.from_model`) and the extension's tool
schemas use: types, required and unknown properties, enums, numeric and length bounds, arrays, anyOf.
The answer is a short reason the model can act on, or None when the arguments fit.
"""

from __future__ import annotations

from typing import Any

MAX_PROBLEMS = 5
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def argument_problems(schema: dict[str, Any], arguments: Any) -> str | None:
    problems: list[str] = []
    _check(schema, arguments, "arguments", problems)
    return "; ".join(problems[:MAX_PROBLEMS]) if problems else None


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False  # JSON booleans are not numbers, though Python's bool is an int
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    expected = TYPES.get(kind)
    return expected is None or isinstance(value, expected)


def _check(schema: Any, value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(schema, dict):
        return
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        if not any(_fits(option, value) for option in options):
            problems.append(f"{where}: does not match any allowed form")
        return
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_type_ok(k, value) for k in kinds):
        problems.append(f"{where}: expected {' or '.join(kinds)}, got {_json_type(value)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where}: must be {schema['const']!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: longer than {schema['maxLength']} characters")
    if isinstance(value, int | float) and not isinstance(value, bool):
        for bound, bad, text in (
            ("minimum", lambda v, b: v < b, "below"),
            ("maximum", lambda v, b: v > b, "above"),
            ("exclusiveMinimum", lambda v, b: v <= b, "not above"),
            ("exclusiveMaximum", lambda v, b: v >= b, "not below"),
        ):
            if bound in schema and isinstance(schema[bound], int | float) and bad(value, schema[bound]):
                problems.append(f"{where}: {text} {schema[bound]}")
    if isinstance(value, dict):
        _check_object(schema, value, where, problems)
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where}: more than {schema['maxItems']} items")
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where}: fewer than {schema['minItems']} items")
        for index, item in enumerate(value[:200]):
            _check(schema.get("items"), item, f"{where}[{index}]", problems)


def _check_object(schema: dict[str, Any], value: dict[str, Any], where: str, problems: list[str]) -> None:
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            problems.append(f"{where}.{name}: required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            _check(properties[name], item, f"{where}.{name}", problems)
        elif extra is False:
            problems.append(f"{where}.{name}: unknown property")
        elif isinstance(extra, dict):
            _check(extra, item, f"{where}.{name}", problems)


def _fits(schema: Any, value: Any) -> bool:
    found: list[str] = []
    _check(schema, value, "", found)
    return not found


def _json_type(value: Any) -> str:
    for name, types in TYPES.items():
        if isinstance(value, types) and not (name in ("integer", "number") and isinstance(value, bool)):
            return name
    return type(value).__name__
