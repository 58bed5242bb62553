"""Bounds on what one client can make a worker hold: steps followed per socket, and the size of an SSE
request body (the socket's own frame limit, docs/protocol.md §5.1). Beyond a bound the answer is a typed
error and nothing is started or stored."""

from __future__ import annotations

import asyncio
import json

from app.db.models import ChatElement, Session, Step, UserQuery
from tests.api.scripted_models import scripted_settings
from tests.api.test_chat_socket_errors import open_socket
from tests.conftest import start_service, stop_service


async def rows() -> dict[str, int]:
    return {
        "sessions": await Session.all().count(),
        "queries": await UserQuery.all().count(),
        "steps": await Step.all().count(),
        "elements": await ChatElement.all().count(),
    }


async def frames_until(ws, done) -> list[dict]:
    seen = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
        if frame["data"]["type"] == "PING":
            continue
        seen.append(frame)
        if done(frame):
            return seen


def is_request_error(frame: dict) -> bool:
    return frame["data"]["type"] == "STREAM_ERROR" and "message_id" not in frame


def is_step_end(frame: dict) -> bool:
    return "message_id" in frame and frame["data"]["type"] in ("STREAM_END", "STREAM_END_CLOSE_CONNECTION")


async def test_a_socket_following_its_limit_of_steps_gets_a_typed_error_and_starts_nothing(
    database_url, redis_url, tmp_path
):
    settings, chat, _ = scripted_settings(database_url, redis_url, tmp_path, **{"chat.max_streams_per_socket": 1})
    # Slow enough that the first answer is still streaming while the second request arrives.
    chat.play({"text": "a slow answer " * 8, "chunk_chars": 4, "delay_ms": 40}, mode="repeat")
    service = await start_service(settings)
    try:
        ws = await open_socket(service, await service.issue_token())
        await ws.send(json.dumps({"query": "first", "repositories": []}))
        first = await frames_until(ws, lambda f: f["data"]["type"] == "RESPONSE_METADATA")
        stream_id = first[-1]["data"]["content"]["query_id"]
        before = await rows()
        # A resume of the running step would be a second relay on this socket; a new query a second step.
        for request in (
            {"resume_query_id": stream_id, "resume_offset_id": first[-1]["message_id"]},
            {"query": "second", "repositories": []},
        ):
            await ws.send(json.dumps(request))
            seen = await frames_until(ws, lambda f: is_request_error(f) or is_step_end(f))
            refusal = seen[-1]
            assert is_request_error(refusal), [f["data"]["type"] for f in seen]
            assert refusal["data"]["status"] == "TOO_MANY_STREAMS"
            assert await rows() == before, "the refused request wrote nothing"
            assert len(chat.calls()) == 1, "and asked no model"
        rest = await frames_until(ws, is_step_end)  # the first answer was not disturbed, nor doubled
        ids = [f["message_id"] for f in first + rest if "message_id" in f]
        assert len(ids) == len(set(ids)), "each frame once: no second relay was started"
        # Its relay ended, so the slot is free again: the same socket is served.
        await asyncio.sleep(0.05)
        await ws.send(json.dumps({"query": "third", "repositories": []}))
        seen = await frames_until(ws, lambda f: is_request_error(f) or is_step_end(f))
        assert is_step_end(seen[-1]), seen[-1]
        assert len(chat.calls()) == 2
        await ws.close()
    finally:
        await stop_service(service)


async def test_sse_bodies_above_the_payload_limit_are_refused_with_413_and_store_nothing(
    database_url, redis_url, tmp_path
):
    settings, chat, _ = scripted_settings(database_url, redis_url, tmp_path, **{"chat.payload_max_bytes": 4096})
    chat.play({"text": "ok"}, mode="repeat")
    service = await start_service(settings)
    try:
        auth = {"Authorization": f"Bearer {await service.issue_token()}"}
        big = json.dumps({"query": "x" * 5000, "repositories": []}).encode()
        tools = json.dumps(
            {"batch_tool_responses": [{"tool_use_id": "t", "tool_name": "grep", "response": {"r": "y" * 5000}}]}
        ).encode()
        for path, body in (("/v1/query-solver/stream", big), ("/v1/query-solver/tool-response", tools)):
            response = await service.request("POST", path, content=body, headers=auth)
            assert response.status_code == 413, (path, response.text)
            assert response.json()["error"]["message"] == "PAYLOAD_TOO_LARGE"
        assert await rows() == {"sessions": 0, "queries": 0, "steps": 0, "elements": 0}
        assert chat.calls() == []
        # Under the limit the same route answers as before.
        small = json.dumps({"query": "x" * 1000, "repositories": []}).encode()
        response = await service.request("POST", "/v1/query-solver/stream", content=small, headers=auth)
        assert response.status_code == 200 and '"STREAM_END' in response.text, response.text
    finally:
        await stop_service(service)
