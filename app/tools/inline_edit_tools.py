"""The tools an inline-edit job offers (docs/protocol.md §4.4): reading, searching and editing tools from the
client catalogue, plus `task_completion`, which only inline edits know and which ends the client's loop."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.tools.client_tools import BY_NAME, CatalogueEntry, OfferedTool, ToolFlags, ToolInput

EDIT_TOOL = "replace_in_file"
DONE_TOOL = "task_completion"


class TaskCompletion(ToolInput):
    status: Literal["completed", "failed"] = Field(description="completed when the edit is done, else failed.")
    message: str | None = Field(default=None, max_length=4000, description="One or two sentences for the user.")


TASK_COMPLETION = CatalogueEntry(
    DONE_TOOL,
    "Finish: say whether the requested edit is done (or cannot be done) and why, in a sentence or two.",
    TaskCompletion,
    lambda f: True,
)
INLINE_EDIT_CATALOGUE: tuple[CatalogueEntry, ...] = (
    BY_NAME["iterative_file_reader"],
    BY_NAME["grep_search"],
    BY_NAME[EDIT_TOOL],
    BY_NAME["get_usage_tool"],
    TASK_COMPLETION,
)


def inline_edit_tools(*, is_lsp_ready: bool) -> list[OfferedTool]:
    # write_mode: replace_in_file is the point of an inline edit; the language server gates get_usage_tool.
    flags = ToolFlags(write_mode=True, is_lsp_ready=is_lsp_ready)
    return [OfferedTool(entry.spec(), "client", entry.model) for entry in INLINE_EDIT_CATALOGUE if entry.offered(flags)]
