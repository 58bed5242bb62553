"""The provider-neutral model: message shapes, tool schemas from pydantic, usage and cost."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from app.llm.types import ImagePart, Message, Prices, TextPart, ToolCallPart, ToolSpec, Usage


class Location(BaseModel):
    path: str
    line: int | None = None


class Edit(BaseModel):
    """Replace text in a file."""

    location: Location
    replacements: list[Location]


def test_tool_schemas_come_from_pydantic_models_without_refs_or_titles():
    schema = ToolSpec.from_model("edit", "Edit a file", Edit).input_schema
    assert "$defs" not in str(schema) and "$ref" not in str(schema) and "title" not in schema
    assert schema["properties"]["location"]["properties"]["path"] == {"type": "string"}
    assert schema["properties"]["replacements"]["items"]["required"] == ["path"]
    assert schema["required"] == ["location", "replacements"]


def test_tool_names_must_suit_every_provider():
    with pytest.raises(ValidationError):
        ToolSpec(name="has space", description="", input_schema={"type": "object"})


def test_roles_only_hold_the_parts_that_make_sense():
    Message.user("look", ImagePart(media_type="image/png", data="AA=="))
    with pytest.raises(ValidationError, match="a system message cannot hold a tool_call part"):
        Message(role="system", parts=(ToolCallPart(id="c", name="n", arguments={}),))
    with pytest.raises(ValidationError):
        Message(role="tool", parts=(TextPart(text="loose text"),))


def test_cost_bills_cache_reads_and_writes_at_their_own_prices():
    prices = Prices(input=Decimal("3"), output=Decimal("15"), cache_read=Decimal("0.3"), cache_write=Decimal("3.75"))
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=600_000, cache_write_tokens=200_000)
    # 200k uncached * 3 + 600k * 0.3 + 200k * 3.75 + 100k * 15, per million
    assert prices.cost(usage) == Decimal("0.6") + Decimal("0.18") + Decimal("0.75") + Decimal("1.5")
    assert Prices(input=Decimal("2")).cost(Usage(input_tokens=500, cache_read_tokens=500)) == Decimal("0.001")


def test_usage_adds_up():
    assert Usage(input_tokens=1, output_tokens=2) + Usage(input_tokens=3, cache_read_tokens=4) == Usage(
        input_tokens=4, output_tokens=2, cache_read_tokens=4
    )
