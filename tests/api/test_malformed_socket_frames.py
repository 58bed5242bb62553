"""Malformed input on the chat socket gets an in-band typed error and changes nothing; the socket stays open
(docs/protocol.md §5.1, §5.7). Frames that are not UTF-8, JSON nested without bound, NUL and lone surrogates,
ids that do not fit, and upgrade headers PostgreSQL could not store each once closed the socket silently or
wrote half a request."""

from __future__ import annotations

import asyncio
import json
import re

import pytest_asyncio
from websockets.asyncio.client import connect

from tests.api.malformed import SOCKET, World, client_headers, json_bytes, raw_http, start_world, stop_world
from tests.conftest import CLIENT_HEADERS

END = ("STREAM_END", "STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR")


@pytest_asyncio.fixture
async def world(database_url, redis_url):
    world = await start_world(database_url, redis_url)
    yield world
    await stop_world(world)


async def open_socket(base_url: str, token: str, **headers: str):
    return await connect(
        base_url.replace("http://", "ws://") + SOCKET,
        additional_headers={**CLIENT_HEADERS, "Authorization": f"Bearer {token}", **headers},
        open_timeout=10,
    )


async def answer_to(ws, frame, *, text: bool | None = None) -> list[dict]:
    """Send one frame (str, bytes, or fragments); STREAM_START and what follows, up to an end; PINGs skipped."""
    await ws.send(frame, text=text)
    frames = []
    while True:
        received = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if received["data"]["type"] == "PING":
            continue
        frames.append(received)
        if received["data"]["type"] in END:
            return frames


def request_error(frames: list[dict]) -> tuple[str, str]:
    assert [f["data"]["type"] for f in frames] == ["STREAM_START", "STREAM_ERROR"], frames
    assert "message_id" not in frames[1], "a request-level error is a direct frame"
    return frames[1]["data"]["status"], frames[1]["data"]["message"]


async def still_serving(ws) -> None:
    """A well-formed query still gets its typed answer (no model is configured), so the socket is alive."""
    status, _ = request_error(await answer_to(ws, json.dumps({"query": "still there?"})))
    assert status == "MODEL_UNAVAILABLE"


async def test_frames_that_are_not_utf8_are_answered_in_band_and_the_socket_stays_open(world: World):
    before = await world.state()
    ws = await open_socket(world.service.base_url, world.token)
    for frame in (
        b'{"query": "caf\xe9"}',  # Latin-1
        b'{"query": "\xed\xa0\x80"}',  # an encoded surrogate
        [b'{"query": "fragmented ', b"\xff", b'"}'],  # the bad byte in a continuation frame
        b"\xc3",  # a sequence cut short by the end of the message
    ):
        assert request_error(await answer_to(ws, frame, text=True)) == (
            "INVALID_REQUEST",
            "the frame is not valid UTF-8",
        )
    # A character split across fragments is fine: only whole messages are judged.
    split = json.dumps({"query": "café"}, ensure_ascii=False).encode()
    cut = split.index("é".encode()) + 1
    status, _ = request_error(await answer_to(ws, [split[:cut], split[cut:]], text=True))
    assert status == "MODEL_UNAVAILABLE", "the reassembled frame reached the solver"
    await still_serving(ws)
    await ws.close()
    assert await world.state() == before


async def test_json_nested_without_bound_is_invalid_request_and_the_socket_stays_open(world: World):
    before = await world.state()
    ws = await open_socket(world.service.base_url, world.token)
    for frame in (
        "[" * 100_000 + "]" * 100_000,
        '{"query": "deep", "focus_items": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"query": "deep", "repositories": [' + '{"a":' * 200 + "1" + "}" * 200 + "]}",
    ):
        status, message = request_error(await answer_to(ws, frame))
        assert (status, message) == ("INVALID_REQUEST", "the frame is nested deeper than 128 levels")
    await still_serving(ws)
    await ws.close()
    assert await world.state() == before


async def test_nul_lone_surrogates_and_non_finite_numbers_in_a_frame_are_invalid_request(world: World):
    before = await world.state()
    ws = await open_socket(world.service.base_url, world.token)
    tool_answer = {"tool_name": "read", "tool_use_id": "t1", "response": {"text": "\ud800"}}
    for payload in (
        {"query": "a\x00b"},
        {"query": "cut emoji \ud83d"},
        {"query": "q", "deputy_dev_rules": "\udfff"},
        {"query": "q", "focus_items": [{"type": "file", "path": "/a\x00b", "chunks": []}]},
        {"\x00": 1, "query": "q"},
        {"session_id": world.session_id, "batch_tool_responses": [tool_answer]},
    ):
        status, message = request_error(await answer_to(ws, json_bytes(payload).decode()))
        assert status == "INVALID_REQUEST" and "NUL" in message, message
    for raw in ('{"query": "q", "n": NaN}', '{"query": "q", "n": 1e999}', '{"query": "q", "n": -Infinity}'):
        assert request_error(await answer_to(ws, raw)) == ("INVALID_REQUEST", "the frame is not valid JSON")
    await still_serving(ws)
    await ws.close()
    assert await world.state() == before


async def test_ids_in_frames_that_do_not_fit_change_nothing(world: World):
    before = await world.state()
    ws = await open_socket(world.service.base_url, world.token, **{"X-Session-ID": "9223372036854775808"})
    tools = [{"tool_name": "read", "tool_use_id": "t1", "response": {}}]
    for session_id in ("²", "١٢", 2**63, 2**53, "9223372036854775808", -1, True):
        # Not an id = absent (§0); tool responses without a session have none to answer.
        frames = await answer_to(ws, json.dumps({"session_id": session_id, "batch_tool_responses": tools}))
        assert request_error(frames)[0] == "SESSION_NOT_FOUND"
    for payload, status in (
        ({"type": "PAYLOAD_ATTACHMENT", "attachment_id": "²"}, "INVALID_REQUEST"),
        ({"type": "PAYLOAD_ATTACHMENT", "attachment_id": 2**63}, "ATTACHMENT_NOT_FOUND"),  # like a foreign id
        ({"type": "PAYLOAD_ATTACHMENT", "attachment_id": "9223372036854775808"}, "ATTACHMENT_NOT_FOUND"),
        ({"query": "look", "attachments": [{"attachment_id": "١٢"}]}, "INVALID_REQUEST"),
        ({"resume_query_id": "0" * 32, "resume_offset_id": "١٢-٣"}, "INVALID_REQUEST"),
    ):
        assert request_error(await answer_to(ws, json.dumps(payload)))[0] == status, payload
    await still_serving(ws)
    await ws.close()
    assert await world.state() == before


async def test_an_upgrade_header_too_long_to_store_is_refused_in_band_before_anything_is_written(world: World):
    before = await world.state()
    ws = await open_socket(world.service.base_url, world.token, **{"X-Session-Type": "T" * 65})
    await ws.send(json.dumps({"query": "hi"}))
    frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert frame["data"]["type"] == "STREAM_ERROR" and frame["data"]["status"] == "INVALID_REQUEST", frame
    await asyncio.wait_for(ws.wait_closed(), timeout=10)
    assert ws.close_code == 4400
    assert await world.state() == before


async def test_an_upgrade_header_no_handshake_can_carry_is_a_typed_4xx_not_a_500(world: World):
    before = await world.state()
    upgrade = [
        (b"Upgrade", b"websocket"),
        (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"Sec-WebSocket-Version", b"13"),
    ]
    for value in (b"VSCODE_\xff_EXT", b"a\x00b", b"\xe2\x98\x83", b"bell\x07"):
        status, body = await raw_http(
            world.service.base_url, "GET", SOCKET, [*client_headers(world.token), *upgrade, (b"X-Session-Type", value)]
        )
        assert (status, body["error"]["message"]) == (422, "INVALID_REQUEST"), (value, body)
    assert await world.state() == before


def gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match[1])


async def test_sockets_do_not_leak_into_the_in_progress_gauge(world: World):
    async def metrics() -> str:
        return (await world.service.request("GET", "/metrics", client_headers=False)).text

    baseline = await metrics()
    sockets = [await open_socket(world.service.base_url, world.token) for _ in range(5)]
    for ws in sockets:
        await still_serving(ws)
    during = await metrics()
    assert gauge(during, "adjutant_websockets_open") == gauge(baseline, "adjutant_websockets_open") + 5
    for ws in sockets:
        await ws.close()
    for _ in range(100):  # the server notices each close a moment later
        after = await metrics()
        if gauge(after, "adjutant_websockets_open") == gauge(baseline, "adjutant_websockets_open"):
            break
        await asyncio.sleep(0.05)
    in_progress = "adjutant_http_requests_in_progress"
    assert gauge(during, in_progress) == gauge(after, in_progress) == gauge(baseline, in_progress)
    assert gauge(after, "adjutant_websockets_open") == gauge(baseline, "adjutant_websockets_open")
