"""Every chat request gets a typed answer (docs/protocol.md §5.6, §5.7): a request the server cannot serve is
one request-level STREAM_ERROR after STREAM_START, nothing half-written stays behind, and the socket keeps
serving the next request."""

from __future__ import annotations

import json
import logging

import asyncpg
from websockets.asyncio.client import connect

from app.db.models import ChatElement, Session, Step, UserQuery
from tests.conftest import CLIENT_HEADERS, make_settings, start_service, stop_service

SOCKET = "/end_user/v2/code-gen/generate-code-ws"


def scripted_chat_settings(database_url: str, redis_url: str, script):
    model = {
        "id": 1,
        "name": "scripted",
        "display_name": "Scripted",
        "input_token_limit": 100_000,
        "output_token_limit": 1_000,
        "routes": [{"provider": "scripted", "script_path": str(script)}],
    }
    return make_settings(
        database_url,
        redis_url,
        **{"llm.models": [model], "llm.code_gen_models": ["scripted"], "llm.default_model": "scripted"},
    )


async def open_socket(service, token: str):
    return await connect(
        service.base_url.replace("http://", "ws://") + SOCKET,
        additional_headers={**CLIENT_HEADERS, "Authorization": f"Bearer {token}"},
        open_timeout=10,
    )


async def answer(ws, payload: dict) -> list[dict]:
    """STREAM_START and the frames after it, up to an end event; PINGs skipped."""
    await ws.send(json.dumps(payload))
    frames = []
    while True:
        frame = json.loads(await ws.recv())
        if frame["data"]["type"] == "PING":
            continue
        frames.append(frame)
        if frame["data"]["type"] in ("STREAM_END", "STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR"):
            return frames


async def rows() -> dict[str, int]:
    return {
        "sessions": await Session.all().count(),
        "queries": await UserQuery.all().count(),
        "steps": await Step.all().count(),
        "elements": await ChatElement.all().count(),
    }


async def test_no_usable_model_is_a_typed_error_that_writes_nothing_and_keeps_the_socket(database_url, redis_url):
    # Without provider keys the local model is the only candidate; disabled, nothing is usable.
    service = await start_service(make_settings(database_url, redis_url, **{"providers.local_enabled": False}))
    try:
        ws = await open_socket(service, await service.issue_token())
        for _ in range(2):  # the same socket answers again, the same way
            frames = await answer(ws, {"query": "hi", "repositories": []})
            assert [f["data"]["type"] for f in frames] == ["STREAM_START", "STREAM_ERROR"]
            error = frames[1]
            assert "message_id" not in error, "a request-level error is a direct frame"
            assert error["data"]["status"] == "MODEL_UNAVAILABLE"
            assert "OPENAI_API_KEY" in error["data"]["message"]
            assert "set providers.local_enabled = true" in error["data"]["message"]
        assert await rows() == {"sessions": 0, "queries": 0, "steps": 0, "elements": 0}
        # Tool responses for a session that does not exist still get their own typed answer.
        frames = await answer(
            ws, {"session_id": 999, "batch_tool_responses": [{"tool_name": "x", "tool_use_id": "t1", "response": {}}]}
        )
        assert frames[-1]["data"]["status"] == "SESSION_NOT_FOUND"
        await ws.close()
    finally:
        await stop_service(service)


async def test_an_unexpected_fault_is_internal_error_logged_and_the_next_request_works(
    database_url, redis_url, tmp_path, caplog
):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"mode": "repeat", "responses": [{"text": "Hello there"}]}))
    service = await start_service(scripted_chat_settings(database_url, redis_url, script))
    admin = await asyncpg.connect(database_url)
    try:
        ws = await open_socket(service, await service.issue_token())
        # A real fault below the solver: the table a new query is written to is gone.
        await admin.execute("ALTER TABLE user_queries RENAME TO user_queries_away")
        with caplog.at_level(logging.ERROR, logger="adjutant.chat"):
            frames = await answer(ws, {"query": "hi"})
        assert [f["data"]["type"] for f in frames] == ["STREAM_START", "STREAM_ERROR"]
        assert frames[1]["data"] == {"type": "STREAM_ERROR", "status": "INTERNAL_ERROR", "message": "Internal error"}
        assert any(r.message == "unhandled error in a chat request" and r.exc_info for r in caplog.records)
        await admin.execute("ALTER TABLE user_queries_away RENAME TO user_queries")
        # The session insert was rolled back with the failed query: nothing is left of the failed request.
        assert await rows() == {"sessions": 0, "queries": 0, "steps": 0, "elements": 0}
        frames = await answer(ws, {"query": "hi"})
        kinds = [f["data"]["type"] for f in frames]
        assert kinds[:3] == ["STREAM_START", "STREAM_INITIALIZED", "RESPONSE_METADATA"]
        assert kinds[-1] == "STREAM_END_CLOSE_CONNECTION", frames[-1]
        assert "".join(f["data"]["content"]["text"] for f in frames if f["data"]["type"] == "TEXT_DELTA") == (
            "Hello there"
        )
        await ws.close()
    finally:
        await admin.close()
        await stop_service(service)
