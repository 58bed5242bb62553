"""The boundary's value rules: JSON decoding that never raises anything but INVALID_REQUEST, and bounded
integers that keep a field's own tighter bounds."""

from __future__ import annotations

import json
import time
from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from app.db.wire_types import MAX_JSON_DEPTH, Int32, Int64, WireStr, Within, decode_json, nesting_depth
from app.errors import InvalidRequest


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested deeper"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b'"\xed\xa0\x80"', "not valid UTF-8"),  # an encoded surrogate, which json.loads(bytes) lets through
        (b'{"a": "\\u0000"}', "NUL"),
        (b'{"\\ud800": 1}', "NUL"),
        (b'["\\udc00\\ud800"]', "NUL"),  # a low surrogate before a high one pairs with nothing
        (b'{"a": NaN}', "not valid JSON"),
        (b"[Infinity]", "not valid JSON"),
        (b"[1e999]", "not valid JSON"),
        (b"[" + b"9" * 5000 + b"]", "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b"{'a': 1}", "not valid JSON"),
    ],
)
def test_broken_json_is_invalid_request_and_nothing_else(raw, reason):
    with pytest.raises(InvalidRequest) as caught:
        decode_json(raw)
    assert reason in caught.value.detail


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, None),
        (b'{"a": "\\ud83d\\ude00"}', {"a": "😀"}),  # a pair is one character
        (b'{"a": "\\\\u0000"}', {"a": "\\u0000"}),  # an escaped backslash, not a NUL
        ('{"a": "[[[[' + "[" * 1000 + '"}', {"a": "[" * 1004}),  # brackets in strings do not nest
        ('{"q": "\\"]]]]\\"[[[["}', {"q": '"]]]]"[[[['}),
        (b"12345678901234567890123", 12345678901234567890123),
    ],
)
def test_valid_json_decodes_as_json_loads_would(raw, value):
    decoded = decode_json(raw)
    assert decoded == (value if value is not None else json.loads(raw))


def test_the_depth_check_costs_little_beside_decoding():
    payload = json.dumps(
        [{"path": f"/r/{i}.py", "chunks": [{"content": "{[(" * 20, "lines": [1, 2]}]} for i in range(20_000)]
    )
    started = time.perf_counter()
    assert nesting_depth(payload) == 5  # list, object, chunks, object, lines
    depth_s = time.perf_counter() - started
    started = time.perf_counter()
    json.loads(payload)
    loads_s = time.perf_counter() - started
    assert depth_s < 5 * loads_s + 0.05, (depth_s, loads_s)


class Page(BaseModel):
    limit: Int32 = Field(default=20, ge=1, le=100)
    offset: Int32 = 0
    rank: Annotated[int, Within(0, 10_000)] | None = None  # an optional field carries its bounds in the type
    size: Int64 | None = None
    name: WireStr | None = Field(default=None, max_length=8)


@pytest.mark.parametrize(
    "data",
    [
        {"limit": 101},
        {"limit": 0},
        {"offset": 2**31},
        {"offset": -(2**31) - 1},
        {"rank": 10_001},
        {"rank": 2**63},
        {"size": 2**63},
        {"size": -(2**63) - 1},
        {"size": "²"},
        {"name": "a\x00"},
        {"name": "\ud800"},
        {"name": "x" * 9},
    ],
)
def test_bounded_types_refuse_what_their_column_or_field_cannot_hold(data):
    with pytest.raises(ValidationError):
        Page.model_validate(data)


def test_bounded_types_keep_the_tighter_bound_in_the_schema():
    properties = Page.model_json_schema()["properties"]
    assert (properties["limit"]["minimum"], properties["limit"]["maximum"]) == (1, 100)
    assert (properties["offset"]["minimum"], properties["offset"]["maximum"]) == (-(2**31), 2**31 - 1)
    assert properties["rank"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": 10_000}
    assert properties["size"]["anyOf"][0] == {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
    assert Page.model_validate({"limit": 100, "offset": 2**31 - 1, "size": 2**63 - 1, "name": "😀"}).size == 2**63 - 1
