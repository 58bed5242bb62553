"""No route or message accepts an id the caller does not own; foreign ids look exactly like missing ones."""

from __future__ import annotations

from tests.contract.test_basic_scenarios import session_of


async def owned_turn(deployment, client, payload):
    socket = await client.socket()
    turn = await socket.ask(payload)
    await socket.close()
    return turn


async def test_session_routes_refuse_foreign_sessions_like_missing_ones(deployment):
    deployment.script({"text": "ada's answer"}, mode="repeat")
    ada, eve = deployment.client("ada"), deployment.client("eve")
    turn = await owned_turn(deployment, ada, {"query": "mine"})
    session_id = session_of(turn)
    missing = 987654321
    for method, path, kwargs in [
        ("GET", "/end_user/v1/history/chats", {}),
        ("PUT", "/end_user/v1/history/delete-session", {"json": {}}),
        (
            "PUT",
            "/end_user/v1/history/pin-unpin-session",
            {"params": {"sessions_list_type": "PINNED", "pinned_rank": 0}},
        ),
        ("POST", "/end_user/v2/code-gen/cancel", {"json": {}}),
        ("POST", "/end_user/v1/feedbacks/submit", {"headers": {"X-Query-ID": "1", "X-Feedback": "UPVOTE"}}),
    ]:
        foreign = await eve.rest(method, path, session_id, **kwargs)
        absent = await eve.rest(method, path, missing, **kwargs)
        assert foreign.status_code == absent.status_code == 404, path
        assert foreign.json()["error"] == absent.json()["error"], path
    assert len(await ada.chats(session_id)) == 2, "the owner's session is untouched"


async def test_feedback_needs_a_query_of_that_session(deployment):
    deployment.script({"text": "answer"}, mode="repeat")
    ada, eve = deployment.client("ada"), deployment.client("eve")
    turn = await owned_turn(deployment, ada, {"query": "rate me"})
    session_id = session_of(turn)
    query_id = turn.of("TASK_COMPLETION")[0]["data"]["content"]["query_id"]
    ok = await ada.rest(
        "POST",
        "/end_user/v1/feedbacks/submit",
        session_id,
        headers={"X-Query-ID": str(query_id), "X-Feedback": "DOWNVOTE"},
    )
    assert ok.status_code == 200 and ok.json()["data"] == {"query_id": query_id, "feedback": "DOWNVOTE"}
    other = session_of(await owned_turn(deployment, ada, {"query": "another session"}))
    wrong_session = await ada.rest(
        "POST", "/end_user/v1/feedbacks/submit", other, headers={"X-Query-ID": str(query_id), "X-Feedback": "UPVOTE"}
    )
    assert wrong_session.status_code == 404
    eves = session_of(await owned_turn(deployment, eve, {"query": "eve's"}))
    foreign_query = await eve.rest(
        "POST", "/end_user/v1/feedbacks/submit", eves, headers={"X-Query-ID": str(query_id), "X-Feedback": "UPVOTE"}
    )
    assert foreign_query.status_code == 404
    bad_value = await ada.rest(
        "POST", "/end_user/v1/feedbacks/submit", session_id, headers={"X-Query-ID": str(query_id), "X-Feedback": "MEH"}
    )
    assert bad_value.status_code == 422


async def test_socket_messages_refuse_foreign_sessions_and_tool_uses(deployment):
    deployment.script(
        {"tool_calls": [{"name": "ask_user_input", "input": {"prompt": "?"}}]},
        {"tool_calls": [{"name": "ask_user_input", "input": {"prompt": "?"}}]},
    )
    ada, eve = deployment.client("ada"), deployment.client("eve")
    ada_turn = await owned_turn(deployment, ada, {"query": "ada asks"})
    ada_session, (ada_call,) = session_of(ada_turn), ada_turn.tool_requests()
    eve_turn = await owned_turn(deployment, eve, {"query": "eve asks"})
    eve_session = session_of(eve_turn)
    answer = {"tool_name": "ask_user_input", "tool_use_id": ada_call["tool_use_id"], "response": {"user_response": "x"}}
    # Through the upgrade header, and in the payload: foreign sessions are not found.
    via_header = await eve.socket(ada_session)
    assert (await via_header.ask({"query": "hello"})).compact() == ["SS", "ERR(SESSION_NOT_FOUND)"]
    assert (await via_header.ask({"batch_tool_responses": [answer]})).compact() == ["SS", "ERR(SESSION_NOT_FOUND)"]
    await via_header.close()
    # Eve's own session cannot be fed Ada's tool use id.
    mine = await eve.socket(eve_session)
    refused = await mine.ask({"batch_tool_responses": [answer], "session_id": eve_session})
    assert refused.compact() == ["SS", "ERR(INVALID_TOOL_RESPONSE)"]
    await mine.close()
    chats = await ada.chats(ada_session)
    assert [c["actor"] for c in chats] == ["USER", "ASSISTANT"], "nothing was applied to Ada's session"
