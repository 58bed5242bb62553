"""Tool results in the model transcript: one message per model call, in call order, exactly once even
when two workers append the same batch at the same moment."""

from __future__ import annotations

import asyncio

from tortoise.transactions import in_transaction

from app.chat import transcript
from app.db.models import Session, Step, Team, ToolUse, TranscriptMessage, User, UserQuery


async def make_step() -> Step:
    team = await Team.create(name="core")
    user = await User.create(email="dev@example.com", name="Dev")
    session = await Session.create(team=team, user=user, session_type="VSCODE_EXT_SESSION", summary="s")
    query = await UserQuery.create(team=team, user=user, session=session, text="hi", model="m", fingerprint="f")
    return await Step.create(team=team, session=session, user_query=query, stream_id="a" * 32, ordinal=1)


async def add_tool(step: Step, tool_use_id: str, position: int, call_index: int, status: str = "COMPLETED") -> None:
    await ToolUse.create(
        team_id=step.team_id,
        session_id=step.session_id,
        step=step,
        tool_use_id=tool_use_id,
        tool_name="grep_search",
        position=position,
        call_index=call_index,
        tool_input={},
        tool_response={"data": []},
        status=status,
    )


async def append(step: Step) -> None:
    await transcript.append_tool_results(
        step.id, team_id=step.team_id, session_id=step.session_id, user_query_id=step.user_query_id, budget_tokens=1000
    )


async def results(step: Step) -> list[tuple[int | None, list[str]]]:
    rows = await TranscriptMessage.filter(step_id=step.id, role="tool").order_by("id")
    return [(r.answers_call, [p["tool_call_id"] for p in r.message["parts"]]) for r in rows]


async def test_each_model_call_gets_one_results_message_in_call_order(db):
    step = await make_step()
    await add_tool(step, "toolu_b", 2, 1)
    await add_tool(step, "toolu_a", 1, 1)
    await append(step)
    await add_tool(step, "toolu_c", 3, 2)
    await append(step)  # the first call's results are not appended again; the second call's are
    await append(step)
    assert await results(step) == [(1, ["toolu_a", "toolu_b"]), (2, ["toolu_c"])]


async def test_two_workers_appending_the_same_batch_at_once_append_it_once(db):
    step = await make_step()
    await add_tool(step, "toolu_a", 1, 1)
    await add_tool(step, "toolu_b", 2, 1, status="FAILED")

    async def worker() -> None:
        async with in_transaction():  # as the continuation does: results and the next step together
            await append(step)
            await asyncio.sleep(0.05)  # both are inside their transactions at the same time

    await asyncio.gather(worker(), worker(), worker())
    assert await results(step) == [(1, ["toolu_a", "toolu_b"])]


async def test_results_appended_inside_a_transaction_that_fails_are_not_kept(db):
    step = await make_step()
    await add_tool(step, "toolu_a", 1, 1)
    try:
        async with in_transaction():
            await append(step)
            raise RuntimeError("the continuation step could not be created")
    except RuntimeError:
        pass
    assert await results(step) == []
    await append(step)
    assert await results(step) == [(1, ["toolu_a"])]
