"""The model-facing conversation: provider-neutral messages stored per session, replayed as context."""

from __future__ import annotations

from app.db.models import ToolUse
from app.db.repositories import chat as repo
from app.llm.types import Message, TextPart, ToolResultPart
from app.tools.results import cap, format_result

ABORTED_TEXT = "The user moved on before this tool ran: it was aborted and there is no result."


async def load(session_id: int) -> list[Message]:
    return [Message.model_validate(row.message) for row in await repo.transcript(session_id)]


async def append(
    message: Message, *, team_id: int, session_id: int, user_query_id: int | None, step_id: int | None = None
) -> None:
    await repo.append_transcript(
        team_id=team_id,
        session_id=session_id,
        role=message.role,
        message=message.model_dump(mode="json"),
        user_query_id=user_query_id,
        step_id=step_id,
    )


def result_part(tool: ToolUse, budget_tokens: int) -> ToolResultPart:
    if tool.status == "ABORTED":
        text, is_error = ABORTED_TEXT, True
    else:
        text = cap(format_result(tool.tool_name, tool.tool_response, tool.status), budget_tokens)
        is_error = tool.status != "COMPLETED"
    return ToolResultPart(
        tool_call_id=tool.tool_use_id, name=tool.tool_name, content=(TextPart(text=text),), is_error=is_error
    )


async def append_tool_results(
    step_id: int, *, team_id: int, session_id: int, user_query_id: int, budget_tokens: int
) -> None:
    """Results for every model call of the step whose tool calls have none in the transcript yet: one
    message per call, in the order the model called the tools. Idempotent, also across workers."""
    answered = await repo.answered_calls(step_id)
    calls: dict[int, list[ToolUse]] = {}
    for tool in await repo.tool_uses_of_step(step_id):
        if tool.call_index not in answered:
            calls.setdefault(tool.call_index, []).append(tool)
    for call_index in sorted(calls):
        message = Message.tool_results(*(result_part(t, budget_tokens) for t in calls[call_index]))
        await repo.append_tool_results(
            team_id=team_id,
            session_id=session_id,
            user_query_id=user_query_id,
            step_id=step_id,
            call_index=call_index,
            message=message.model_dump(mode="json"),
        )


async def append_aborted_results(aborted: list[ToolUse], *, team_id: int, session_id: int, user_query_id: int) -> None:
    """Synthetic "aborted" results for tool uses a new query left unanswered (docs/protocol.md §6.2)."""
    steps = sorted({t.step_id for t in aborted})
    for step_id in steps:
        await append_tool_results(
            step_id, team_id=team_id, session_id=session_id, user_query_id=user_query_id, budget_tokens=1000
        )
