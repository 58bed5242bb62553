"""Server tool schemas are generated once per process and shared by every step that offers the tool."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.llm.types import ToolSpec
from app.tools.server_tools import ServerTool


class LookupInput(BaseModel):
    key: str = Field(description="What to look up.")
    limit: int = Field(default=5, ge=1)


async def run(arguments: BaseModel, context: object) -> str:
    return "ok"


def test_a_tools_spec_is_built_once_and_equals_the_one_generated_from_its_model():
    tool = ServerTool(name="lookup", description="Look something up.", model=LookupInput, run=run)
    again = ServerTool(name="lookup", description="Look something up.", model=LookupInput, run=run)
    assert tool.spec() is tool.spec() is again.spec(), "one schema per process, not one per chat"
    assert tool.spec() == ToolSpec.from_model("lookup", "Look something up.", LookupInput)
    assert tool.spec().input_schema["required"] == ["key"]


def test_tools_with_other_descriptions_get_their_own_spec():
    first = ServerTool(name="lookup", description="Look something up.", model=LookupInput, run=run)
    other = ServerTool(name="lookup", description="Find a key.", model=LookupInput, run=run)
    assert first.spec().description != other.spec().description
