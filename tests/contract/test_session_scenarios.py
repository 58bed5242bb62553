"""docs/protocol.md §12 scenarios C13 (history) and C14 (tokens, rotation, versions on REST and the socket)."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.auth.tokens import hash_token
from tests.contract.client import CLIENT, SOCKET_PATH, history_shape
from tests.contract.test_basic_scenarios import session_of


async def new_session(client, text: str) -> int:
    socket = await client.socket()
    turn = await socket.ask({"query": text})
    await socket.close()
    return session_of(turn)


async def listed(client, list_type: str = "UNPINNED", **params) -> dict:
    response = await client.rest(
        "GET",
        "/end_user/v1/history/sessions",
        params={"sessions_list_type": list_type, "session_type": "VSCODE_EXT_SESSION", **params},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_c13_history_lists_pins_reorders_and_deletes(deployment):
    deployment.script({"text": "ok"}, mode="repeat")
    client = deployment.client("eve")
    ids = [await new_session(client, f"history {n}") for n in range(3)]
    page1 = await listed(client, limit=2, offset=0)
    page2 = await listed(client, limit=2, offset=2)
    assert [s["id"] for s in page1["sessions"]][:2] == [ids[2], ids[1]] and page1["has_more"] is True
    assert ids[0] in [s["id"] for s in page2["sessions"]]
    for item in page1["sessions"]:
        assert set(item) >= {"id", "summary", "age", "pinned_rank", "created_at", "updated_at"}
        assert item["updated_at"].endswith("Z") and item["age"][-1] in "smhd"
    pin = await client.rest(
        "PUT",
        "/end_user/v1/history/pin-unpin-session",
        ids[0],
        params={"sessions_list_type": "PINNED", "pinned_rank": 0},
    )
    assert pin.status_code == 200 and pin.json()["data"] is None
    assert [s["id"] for s in (await listed(client, "PINNED"))["sessions"]] == [ids[0]]
    assert ids[0] not in [s["id"] for s in (await listed(client, limit=100))["sessions"]]
    await client.rest(
        "PUT",
        "/end_user/v1/history/pin-unpin-session",
        ids[1],
        params={"sessions_list_type": "PINNED", "pinned_rank": 1},
    )
    dragged = await client.rest("PUT", "/end_user/v1/history/session-dragged", json={str(ids[0]): 5, str(ids[1]): 2})
    assert dragged.status_code == 200
    assert [s["id"] for s in (await listed(client, "PINNED"))["sessions"]] == [ids[1], ids[0]]
    # A map with a foreign or non-integer key changes nothing.
    foreign = await new_session(deployment.client("ada"), "someone else's")
    bad = await client.rest("PUT", "/end_user/v1/history/session-dragged", json={str(ids[0]): 0, str(foreign): 1})
    assert bad.status_code == 404
    worse = await client.rest("PUT", "/end_user/v1/history/session-dragged", json={str(ids[0]): 0, "1; DROP": 1})
    assert worse.status_code == 422
    assert [s["pinned_rank"] for s in (await listed(client, "PINNED"))["sessions"]] == [2, 5]
    unpin = await client.rest(
        "PUT", "/end_user/v1/history/pin-unpin-session", ids[1], params={"sessions_list_type": "UNPINNED"}
    )
    assert unpin.status_code == 200 and ids[1] in [s["id"] for s in (await listed(client, limit=100))["sessions"]]
    # Delete: gone from lists, chats 404, the socket answers SESSION_NOT_FOUND.
    assert (await client.rest("PUT", "/end_user/v1/history/delete-session", ids[2], json={})).status_code == 200
    assert ids[2] not in [s["id"] for s in (await listed(client, limit=100))["sessions"]]
    assert (await client.rest("GET", "/end_user/v1/history/chats", ids[2])).status_code == 404
    socket = await client.socket()
    assert (await socket.ask({"query": "still there?", "session_id": ids[2]})).compact() == [
        "SS",
        "ERR(SESSION_NOT_FOUND)",
    ]
    await socket.close()
    assert (await client.rest("GET", "/end_user/v1/history/chats", foreign)).status_code == 404
    for bad_id in ("abc", "-1", "0"):
        assert (
            await client.rest("GET", "/end_user/v1/history/chats", headers={"X-Session-ID": bad_id})
        ).status_code == 404


async def test_c13_elements_are_in_the_shapes_the_client_renders(deployment):
    deployment.script(
        {
            "thinking": "hmm",
            "text": 'Here:\n<code_block language="python" file_path="/r/a.py" '
            'is_diff="false">\nprint(1)\n</code_block>\n<code_block language="diff" file_path="/r/b.py" '
            'is_diff="true">\n-old\n+new\n</code_block>Done.<summary>Showed code</summary>',
            "tool_calls": [
                {
                    "name": "grep_search",
                    "input": {
                        "search_path": ".",
                        "query": "x",
                        "case_insensitive": True,
                        "use_regex": False,
                        "repo_path": "/r",
                    },
                }
            ],
        }
    )
    client = deployment.client()
    socket = await client.socket()
    turn = await socket.ask({"query": "show me"})
    assert turn.compact() == ["SS", "SI", "RM", "TH", "T", "CB", "CB", "T", "TU(grep_search)", "SE"]
    code_end = turn.of("CODE_BLOCK_END")
    assert code_end[0]["data"]["content"]["diff"] is None
    assert code_end[1]["data"]["content"] == {"diff": "-old\n+new", "added_lines": 1, "removed_lines": 1}
    chats = await client.chats(session_of(turn))
    assert history_shape(chats) == [
        "USER/TEXT",
        "ASSISTANT/THINKING",
        "ASSISTANT/TEXT",
        "ASSISTANT/CODE_BLOCK",
        "ASSISTANT/CODE_BLOCK",
        "ASSISTANT/TEXT",
        "ASSISTANT/TOOL_USE",
    ]
    plain, diff = chats[3]["message_data"], chats[4]["message_data"]
    assert plain["diff"] == "" and plain["code"] == "print(1)" and plain["file_path"] == "/r/a.py"
    assert diff["diff"] == "-old\n+new" and diff["added_lines"] == 1
    assert chats[6]["message_data"]["tool_status"] == "ABORTED", "an unanswered tool use is never shown PENDING"
    assert chats[1]["message_data"] == {
        "message_type": "THINKING",
        "thinking_summary": "hmm",
        "thinking_status": "COMPLETED",
    }
    for chat in chats:
        assert chat["timestamp"].endswith("Z")
    await socket.close()


async def set_expiry(deployment, token: str, interval: str) -> None:
    conn = await asyncpg.connect(deployment.database_url)
    try:
        await conn.execute(
            f"UPDATE api_tokens SET expires_at = now() + interval '{interval}' WHERE token_hash = $1", hash_token(token)
        )
    finally:
        await conn.close()


async def test_c14_rest_auth_rotation_and_versions(deployment):
    client = deployment.client()
    bad = await client.rest("GET", "/end_user/v1/history/sessions", headers={"Authorization": "Bearer adj_" + "x" * 43})
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "NOT_VERIFIED"
    verify = await client.rest(
        "POST", "/end_user/v1/auth/verify-auth-token", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert verify.status_code == 200 and verify.json()["data"]["status"] == "NOT_VERIFIED"
    old = await client.rest("GET", "/end_user/v1/history/sessions", headers={"X-Client-Version": "13.0.0"})
    assert old.status_code == 400 and old.json()["error_code"] == 101 and old.json()["meta"]["error_code"] == 101
    token = deployment.issue_token("rotate@example.com")
    await set_expiry(deployment, token, "1 hour")
    rotating = type(client)(client.base_url, token)
    first = await rotating.rest("GET", "/end_user/v1/history/sessions")
    replacement = first.headers["new_session_data"]
    second = await rotating.rest("GET", "/end_user/v1/history/sessions")
    assert first.status_code == second.status_code == 200
    assert second.headers["new_session_data"] == replacement, "same old token, same new token"
    socket = await rotating.socket()
    deployment.script({"text": "rotated"})
    turn = await socket.ask({"query": "hi"})
    assert turn.frames[0]["data"]["new_session_data"] == replacement
    await socket.close()
    fresh = type(client)(client.base_url, replacement)
    assert "new_session_data" not in (await fresh.rest("GET", "/end_user/v1/history/sessions")).headers


async def refused(deployment, headers: dict[str, str]) -> tuple[dict, int]:
    ws = await connect(deployment.url().replace("http://", "ws://") + SOCKET_PATH, additional_headers=headers)
    await ws.send(json.dumps({"query": "let me in"}))
    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 10)
    return frame, ws.close_code


async def test_c14_socket_refusals_are_one_combined_frame_then_a_close(deployment):
    async def sessions() -> int:
        conn = await asyncpg.connect(deployment.database_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM sessions")
        finally:
            await conn.close()

    before = await sessions()
    frame, code = await refused(deployment, {**CLIENT, "Authorization": "Bearer adj_" + "y" * 43})
    assert code == 4401
    assert frame["type"] == "STREAM_ERROR" and frame["status"] == "NOT_VERIFIED"
    assert frame["data"]["type"] == "STREAM_ERROR" and frame["data"]["status"] == "NOT_VERIFIED"
    token = deployment.tokens["ada"]
    frame, code = await refused(
        deployment, {"X-Client": "VSCODE_EXT", "X-Client-Version": "13.0.0", "Authorization": f"Bearer {token}"}
    )
    assert code == 4426 and frame["status"] == "INVALID_CLIENT_VERSION" and frame["message"]["error_code"] == 101
    assert frame["data"]["status"] == "INVALID_CLIENT_VERSION"
    frame, code = await refused(deployment, {"Authorization": f"Bearer {token}"})
    assert code == 4400 and frame["data"]["status"] == "CLIENT_HEADER_MISSING" and "type" not in frame
    assert await sessions() == before, "nothing is persisted on auth failures"
