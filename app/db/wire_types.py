"""What a client may send us, as every boundary model and decoder sees it: text PostgreSQL can store,
integers that fit the column they are compared with or written to, and JSON of bounded nesting.

PostgreSQL refuses NUL in `text` and `jsonb`, and a lone surrogate (a `\\ud800` escape with no partner) cannot
be encoded as UTF-8 at all; an integer beyond a column's range fails inside asyncpg. Each of those used to
surface as a 500 from deep inside a repository: here they become INVALID_REQUEST at the boundary, before
anything is read or written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetCoreSchemaHandler, StringConstraints
from pydantic_core import CoreSchema, core_schema

from app.errors import InvalidRequest

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # PostgreSQL INTEGER
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # PostgreSQL BIGINT
MAX_WIRE_ID = 2**53  # ids travel through JavaScript clients (docs/protocol.md §0); BIGSERIAL holds them all
MAX_JSON_DEPTH = 128  # far beyond any real request; far below the recursion limit of every later consumer

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "text must not contain NUL characters or unpaired surrogates"
# In valid JSON text, NUL and surrogates can only arrive as \u escapes: without one, the decoded strings are clean.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_ID_TEXT = re.compile(r"[0-9]{1,16}")  # ASCII only: str.isdigit() also says yes to "²", which int() refuses
_INTEGER_TEXT = re.compile(r"-?[0-9]+")  # pydantic then refuses more than 4300 digits, as int() does


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as PostgreSQL text, or None."""
    return UNSTORABLE_TEXT if UNSTORABLE.search(value) else None


def _storable(value: str) -> str:
    if UNSTORABLE.search(value):
        raise ValueError(UNSTORABLE_TEXT)
    return value


WireStr = Annotated[str, AfterValidator(_storable)]
"""Any text a client sends: refused with NUL or a lone surrogate."""


def integer_form(value: Any) -> Any:
    """A JSON integer, or an integer written in ASCII digits (all a query string can carry, and how some
    clients send ids). Pydantic alone also reads True, 2.0, "2.0", " 2" and "1_000" as integers: no client
    means those, so they are refused."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer")
    if isinstance(value, str):
        if not _INTEGER_TEXT.fullmatch(value):
            raise ValueError("must be an integer written in ASCII digits")
        return int(value)  # a ValueError beyond 4300 digits, which pydantic reports like any other
    return value


@dataclass(frozen=True)
class Within:
    """An integer in the wire's form (`integer_form`) within bounds carried by the type and merged with a
    field's own `ge`/`le`, the tighter of each holding (written as `Field(ge=...)` on the type, pydantic lets
    the type's and the field's replace each other).

    An optional field states its bounds in the type, `Annotated[int, Within(1, 200)] | None`: on a union,
    pydantic applies `Field(ge=...)` outside this validator and documents it as `"ge": 1`, which is no JSON
    Schema keyword."""

    low: int
    high: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema.get("type") != "int":
            raise TypeError("Within bounds integers only")
        schema["ge"] = max(schema.get("ge", self.low), self.low)  # type: ignore[typeddict-unknown-key]
        schema["le"] = min(schema.get("le", self.high), self.high)  # type: ignore[typeddict-unknown-key]
        return core_schema.no_info_before_validator_function(integer_form, schema)


Int32 = Annotated[int, Within(INT32_MIN, INT32_MAX)]
"""An integer that fits an INTEGER column (ranks, counts, offsets)."""

Int64 = Annotated[int, Within(INT64_MIN, INT64_MAX)]
"""An integer that fits a BIGINT column (sizes, timestamps)."""

WireInt = Annotated[int, BeforeValidator(integer_form)]
"""An integer of any size in the wire's form: an id that answers not found beyond its column's range
(docs/protocol.md §0: like an id nobody owns)."""

WireIdText = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,15}$")]
"""A row id written as text (JSON object keys, query strings): ASCII digits only."""


def parse_id(raw: Any) -> int | None:
    """A positive integer id below 2^53 from a wire value, or None (docs/protocol.md §0: invalid = absent)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _ID_TEXT.fullmatch(raw.strip()):
        value = int(raw.strip())
    else:
        return None
    return value if 0 < value < MAX_WIRE_ID else None


# --- JSON --------------------------------------------------------------------------------------------------


def decode_json(raw: bytes | str, *, what: str = "the body") -> Any:
    """Strict JSON: UTF-8, at most MAX_JSON_DEPTH levels, finite numbers, storable strings (keys too).

    Raises InvalidRequest for anything else, never RecursionError or UnicodeError."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")  # strict: json.loads(bytes) would let encoded surrogates through
        except UnicodeDecodeError:
            raise InvalidRequest(f"{what} is not valid UTF-8") from None
    else:
        text = raw
        if UNSTORABLE.search(text):  # a decoded frame can only hold a surrogate if its bytes were not UTF-8
            raise InvalidRequest(f"{what} is not valid UTF-8 text")
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise InvalidRequest(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:  # not reachable after the depth check; kept so no decoder fault can escape as a 500
        raise InvalidRequest(f"{what} is nested too deeply") from None
    except ValueError:  # JSONDecodeError, non-finite numbers, integers of more than 4300 digits
        raise InvalidRequest(f"{what} is not valid JSON") from None
    if _UNSTORABLE_ESCAPE.search(text) and any(UNSTORABLE.search(s) for s in _strings(value)):
        raise InvalidRequest(f"{what}: {UNSTORABLE_TEXT}")
    return value


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:  # cheap: no text that short can nest deeper
        return 0
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity, -Infinity (docs/protocol.md §0)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf, which no JSON encoder (nor jsonb) writes back
        raise ValueError("number out of range")
    return value


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, object keys included (depth is already bounded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
