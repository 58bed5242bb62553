"""The intake and the ending of a step write in single statements (one round trip each) with the same
rows, links and all-or-nothing behaviour the ORM writes had."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from app.db.models import ChatElement, Session, Step, Team, TranscriptMessage, User, UserQuery
from app.db.repositories import chat as repo


async def owner() -> tuple[int, int]:
    team = await Team.create(name="core")
    user = await User.create(email="dev@example.com", name="dev")
    return team.id, user.id


def conversation(team_id: int, user_id: int, stream_id: str = "a" * 32, **overrides):
    fields = {
        "team_id": team_id,
        "user_id": user_id,
        "session_type": "VSCODE_EXT_SESSION",
        "summary": "fix the bug",
        "model": "scripted",
        "text": "fix the bug",
        "agent": "code_writer",
        "agent_reason": "rules",
        "retry_reason": None,
        "fingerprint": "f" * 64,
        "user_element": {"text": "fix the bug", "focus_items": [], "attachments": []},
        "transcript_message": {"role": "user", "parts": [{"type": "text", "text": "fix the bug"}]},
        "stream_id": stream_id,
        "calls_counted": 1,
    }
    return repo.start_conversation(**(fields | overrides))


async def test_a_new_conversation_is_written_whole_and_the_returned_rows_match_the_database(db):
    team_id, user_id = await owner()
    written = await conversation(team_id, user_id)
    session = await Session.get(id=written.session.id)
    query = await UserQuery.get(id=written.query.id)
    step = await Step.get(id=written.step.id)
    assert (session.team_id, session.user_id, session.last_model, session.summary) == (
        team_id,
        user_id,
        "scripted",
        "fix the bug",
    )
    assert (query.session_id, query.status, query.step_count, query.agent) == (session.id, "RUNNING", 1, "code_writer")
    assert (step.session_id, step.user_query_id, step.ordinal, step.status, step.stream_id) == (
        session.id,
        query.id,
        1,
        "RUNNING",
        "a" * 32,
    )
    element = await ChatElement.get(session_id=session.id)
    assert (element.actor, element.message_type, element.user_query_id, element.payload["text"]) == (
        "USER",
        "TEXT",
        query.id,
        "fix the bug",
    )
    message = await TranscriptMessage.get(session_id=session.id)
    assert (message.role, message.user_query_id, message.message["parts"][0]["text"]) == (
        "user",
        query.id,
        "fix the bug",
    )
    for returned, stored in ((written.session, session), (written.query, query), (written.step, step)):
        for name in type(stored)._meta.db_fields:
            assert getattr(returned, name) == getattr(stored, name), (type(stored).__name__, name)
    # The step counts its next model calls on top of the one recorded at intake.
    assert await repo.count_model_call(query.id) == 2


async def test_a_conversation_whose_step_cannot_be_written_leaves_nothing_behind(db):
    team_id, user_id = await owner()
    await conversation(team_id, user_id, stream_id="b" * 32)
    with pytest.raises(IntegrityError):  # stream ids are unique: the last insert of the statement fails
        await conversation(team_id, user_id, stream_id="b" * 32, text="another")
    assert await Session.filter(team_id=team_id).count() == 1
    assert await UserQuery.filter(text="another").count() == 0
    assert await ChatElement.all().count() == 1 and await TranscriptMessage.all().count() == 1


async def test_only_the_first_ending_of_a_step_counts_and_only_it_sets_the_querys_status(db):
    team_id, user_id = await owner()
    written = await conversation(team_id, user_id)
    ended = await repo.finish_step(
        written.step.id,
        status="COMPLETED",
        end_event="STREAM_END_CLOSE_CONNECTION",
        usage={"input_tokens": 3},
        query_id=written.query.id,
        query_status="COMPLETED",
        query_summary="fixed",
    )
    assert ended
    late = await repo.finish_step(
        written.step.id,
        status="FAILED",
        end_event="STREAM_ERROR",
        error={"status": "INTERNAL_ERROR"},
        query_id=written.query.id,
        query_status="FAILED",
    )
    assert not late
    step = await Step.get(id=written.step.id)
    query = await UserQuery.get(id=written.query.id)
    assert (step.status, step.end_event, step.usage, step.error) == (
        "COMPLETED",
        "STREAM_END_CLOSE_CONNECTION",
        {"input_tokens": 3},
        None,
    )
    assert (query.status, query.summary) == ("COMPLETED", "fixed")


async def test_a_cancelled_step_keeps_its_query_status_when_its_runner_ends_late(db):
    team_id, user_id = await owner()
    written = await conversation(team_id, user_id)
    assert [s.id for s in await repo.cancel_running_steps(written.session.id)] == [written.step.id]
    assert not await repo.finish_step(
        written.step.id, status="COMPLETED", end_event="STREAM_END", query_id=written.query.id, query_status="COMPLETED"
    )
    assert (await UserQuery.get(id=written.query.id)).status == "RUNNING"
