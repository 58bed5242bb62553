"""docs/protocol.md §12 scenarios C9-C12: resume, cancel, typed errors, duplicates; and two server processes
sharing PostgreSQL and Redis (tool results and resumes landing on the other process)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from tests.contract.client import history_shape
from tests.contract.test_basic_scenarios import FINAL, session_of


async def frames_until_silent(socket, quiet_s: float) -> list[dict]:
    frames = []
    while True:
        try:
            frames.append(await socket.frame(timeout=quiet_s))
        except TimeoutError:
            return frames


PACED = {"text": "".join(f"w{i:02d} " for i in range(40)), "chunk_chars": 4, "delay_ms": 40}


async def test_c9_disconnect_and_resume_has_no_gap_and_no_duplicate(deployment):
    deployment.script(PACED)
    client = deployment.client()
    socket = await client.socket()
    await socket.send({"query": "long answer"})
    first = await socket.turn(stop_after=2 + 5)  # SI, RM and 5 deltas
    offset = first.events[-1]["message_id"]
    stream_id = first.stream_id
    socket.ws.transport.abort()  # drop TCP without a closing handshake
    again = await client.socket()
    rest = await again.ask({"resume_query_id": stream_id, "resume_offset_id": offset}, timeout=20)
    ids = [f["message_id"] for f in first.events + rest.events]
    assert len(ids) == len(set(ids)), "no duplicates"
    seqs = [int(i.split("-")[1]) for i in ids]
    assert seqs == list(range(len(seqs))), "no gaps"
    assert first.text + rest.text == PACED["text"]
    assert rest.compact()[-3:] == ["TC", "QC", "SECC"]
    # Without an offset: from STREAM_INITIALIZED; after the end: the remainder including the terminal event.
    whole = await again.ask({"resume_query_id": stream_id})
    assert whole.compact()[:3] == ["SS", "SI", "RM"] and whole.text == PACED["text"]
    tail = await again.ask({"resume_query_id": stream_id, "resume_offset_id": rest.events[-2]["message_id"]})
    assert tail.compact() == ["SS", "SECC"]
    await again.close()


async def test_c9_resume_refuses_unknown_foreign_and_bad_offsets(deployment):
    deployment.script({"text": "private"})
    ada, eve = deployment.client("ada"), deployment.client("eve")
    socket = await ada.socket()
    turn = await socket.ask({"query": "secret"})
    for client, payload in [
        (eve, {"resume_query_id": turn.stream_id}),
        (ada, {"resume_query_id": "0" * 32}),
        (ada, {"resume_query_id": turn.stream_id, "resume_offset_id": "1-999"}),
    ]:
        other = await client.socket()
        assert (await other.ask(payload)).compact() == ["SS", "ERR(RESUME_NOT_POSSIBLE)"]
        await other.close()
    await socket.close()


async def test_c9_a_continuation_step_resumes_by_its_own_stream_id(deployment):
    deployment.script(
        {"tool_calls": [{"name": "ask_user_input", "input": {"prompt": "?"}}]},
        {"text": "answer after the tool", "chunk_chars": 3, "delay_ms": 30},
    )
    client = deployment.client()
    socket = await client.socket()
    step1 = await socket.ask({"query": "ask me"})
    (call,) = step1.tool_requests()
    await socket.send(
        {
            "session_id": session_of(step1),
            "batch_tool_responses": [
                {
                    "tool_name": "ask_user_input",
                    "tool_use_id": call["tool_use_id"],
                    "response": {"user_response": "yes"},
                }
            ],
        }
    )
    partial = await socket.turn(stop_after=4)
    assert partial.stream_id != step1.stream_id
    await socket.close()
    again = await client.socket()
    rest = await again.ask({"resume_query_id": partial.stream_id, "resume_offset_id": partial.events[-1]["message_id"]})
    assert partial.text + rest.text == "answer after the tool"
    await again.close()


async def test_c10_cancel_stops_the_step_silently_and_the_session_moves_on(deployment):
    deployment.script(PACED, {"text": "next answer"})
    client = deployment.client()
    socket = await client.socket()
    await socket.send({"query": "talk a lot"})
    partial = await socket.turn(stop_after=3)  # SI, RM, TEXT_START
    while not partial.of("TEXT_DELTA"):
        partial.frames.append(await socket.frame())
    session_id = session_of(partial)
    cancelled = await client.cancel(session_id)
    cancel_done = datetime.now(UTC)
    assert cancelled.status_code == 200 and cancelled.json()["data"]["cancelled_steps"] == 1
    # Frames already on their way may still arrive; nothing is produced for live sockets once it is processed.
    late = [
        f
        for f in await frames_until_silent(socket, 1.0)
        if datetime.fromisoformat(f["stream_timestamp"].replace("Z", "+00:00")) >= cancel_done
    ]
    assert late == [], "nothing more of that step reaches the live socket"
    record = deployment.requests()
    request_time = next(r["time"] for r in record if r["event"] == "request")
    cancel_time = next(r["time"] for r in record if r["event"] == "cancelled")
    assert cancel_time - request_time < 10
    chats = await client.chats(session_id)
    assert history_shape(chats) == ["USER/TEXT", "ASSISTANT/TEXT", "SYSTEM/INFO"]
    stored = chats[1]["message_data"]["text"]
    assert stored.startswith(partial.text) and PACED["text"].startswith(stored) and stored != PACED["text"]
    # A new query on the same socket proceeds (a cancelled step is not running).
    turn = await socket.ask({"query": "again", "session_id": session_id})
    assert turn.compact() == FINAL and turn.text == "next answer"
    # The cancelled step's buffer ends with CANCELLED for a resume.
    resumed = await socket.ask({"resume_query_id": partial.stream_id})
    assert resumed.compact()[-1] == "ERR(CANCELLED)"
    # Cancel with nothing running is still 2xx; a foreign session is 404.
    assert (await client.cancel(session_id)).status_code == 200
    assert (await deployment.client("eve").cancel(session_id)).status_code == 404
    await socket.close()


async def test_c10_cancel_on_a_foreign_session_does_not_stop_the_owner(deployment):
    deployment.script({"text": "abcdefghij" * 4, "chunk_chars": 2, "delay_ms": 20})
    client = deployment.client()
    socket = await client.socket()
    await socket.send({"query": "go"})
    partial = await socket.turn(stop_after=3)
    assert (await deployment.client("eve").cancel(session_of(partial))).status_code == 404
    frames = []
    while True:
        frame = await socket.frame()
        frames.append(frame["data"]["type"])
        if frame["data"]["type"] == "STREAM_END_CLOSE_CONNECTION":
            break
    assert frames[-3:] == ["TASK_COMPLETION", "QUERY_COMPLETE", "STREAM_END_CLOSE_CONNECTION"]
    await socket.close()


async def test_c11_typed_errors_and_fallback(deployment):
    client = deployment.client()
    socket = await client.socket()
    # (a) throttled on every route
    deployment.script({"error": {"kind": "throttled", "retry_after": 7}}, mode="repeat")
    (deployment.workdir / "backup.json").write_text(
        json.dumps({"mode": "repeat", "responses": [{"error": {"kind": "throttled", "retry_after": 9}}]})
    )
    turn = await socket.ask({"query": "hello"})
    assert turn.compact() == ["SS", "SI", "RM", "ERR(LLM_THROTTLED)"]
    error = turn.error
    assert error["retry_after"] == 7 and error["model"] == "scripted" and error["provider"] and error["message"]
    session_id = session_of(turn)
    assert history_shape(await client.chats(session_id)) == ["USER/TEXT"]
    # (c) primary fails with a 5xx, the fallback model answers
    deployment.script({"error": {"kind": "provider", "status": 503}}, mode="repeat")
    (deployment.workdir / "backup.json").write_text(json.dumps({"mode": "repeat", "responses": [{"text": "backup"}]}))
    turn = await socket.ask({"query": "hello", "session_id": session_id})
    assert turn.compact() == FINAL and turn.text == "backup"
    assert any("answered instead" in c["message_data"].get("info", "") for c in await client.chats(session_id))
    # (d) failure after 3 chunks: partial text persisted, no TASK_COMPLETION
    deployment.script({"text": "abcdefghijkl", "chunk_chars": 2, "error": {"kind": "provider", "after_chunks": 3}})
    turn = await socket.ask({"query": "break", "session_id": session_id})
    compact = turn.compact()
    assert compact[:4] == ["SS", "SI", "RM", "T"] and compact[-1] == "ERR(PROVIDER_ERROR)" and "TC" not in compact
    assert turn.text == "abcdef"
    assert (await client.chats(session_id))[-1]["message_data"]["text"] == "abcdef"
    await socket.close()


async def test_c11_token_limit_before_any_provider_call_then_retry_on_a_bigger_model(deployment):
    deployment.script({"text": "never", "usage": {"input_tokens": 150_000}}, {"text": "big enough"})
    client = deployment.client()
    socket = await client.socket()
    turn = await socket.ask({"query": "huge"})
    assert turn.compact() == ["SS", "SI", "RM", "ERR(INPUT_TOKEN_LIMIT_EXCEEDED)"]
    error = turn.error
    assert error["current_tokens"] > error["max_tokens"] == 100_000
    assert [m["name"] for m in error["better_models"]] == ["scripted-big"]
    assert all(m["input_token_limit"] > 100_000 for m in error["better_models"])
    assert deployment.model_calls() == [], "the provider must not be called"
    deployment.script({"text": "big enough"})
    retry = await socket.ask(
        {
            "query": "huge",
            "session_id": session_of(turn),
            "llm_model": "scripted-big",
            "retry_reason": "TOKEN_LIMIT_EXCEEDED",
        }
    )
    assert retry.compact() == FINAL
    assert history_shape(await client.chats(session_of(turn))) == ["USER/TEXT", "SYSTEM/INFO", "ASSISTANT/TEXT"]
    await socket.close()


async def test_c12_an_early_error_then_the_identical_resend_reuses_the_query(deployment):
    deployment.script({"error": {"kind": "throttled", "retry_after": 5}}, {"text": "second try"})
    (deployment.workdir / "backup.json").write_text(
        json.dumps({"mode": "repeat", "responses": [{"error": {"kind": "throttled", "retry_after": 5}}]})
    )
    client = deployment.client()
    socket = await client.socket()
    payload = {"query": "same words"}
    first = await socket.ask(payload)
    assert first.compact() == ["SS", "SI", "RM", "ERR(LLM_THROTTLED)"]
    session_id = session_of(first)
    second = await socket.ask({**payload, "session_id": session_id})
    assert second.compact() == FINAL and second.stream_id != first.stream_id
    chats = await client.chats(session_id)
    assert [c["message_data"]["text"] for c in chats if c["actor"] == "USER"] == ["same words"]
    await socket.close()


async def test_c12_duplicates_while_running_are_ignored_or_attached(deployment):
    deployment.script({"text": "x" * 60, "chunk_chars": 3, "delay_ms": 25})
    client = deployment.client()
    socket = await client.socket()
    payload = {"query": "dup me"}
    await socket.send(payload)
    head = await socket.turn(stop_after=3)
    session_id = session_of(head)
    dup = payload  # the reference client re-sends the identical payload
    # Same socket: the duplicate is ignored (no second STREAM_START), other socket: attached from the start.
    other = await client.socket(session_id)
    attached_task = asyncio.create_task(other.ask(dup, timeout=20))
    rest = []
    while True:
        frame = await socket.frame()
        rest.append(frame)
        if frame["data"]["type"] == "STREAM_END_CLOSE_CONNECTION":
            break
    attached = await attached_task
    assert all(f["data"]["type"] != "STREAM_START" for f in rest)
    assert attached.compact()[:3] == ["SS", "SI", "RM"] and attached.stream_id == head.stream_id
    assert attached.text == "x" * 60
    assert len(deployment.model_calls()) == 1, "one provider call for all three sends"
    await socket.close()
    await other.close()


async def test_two_processes_tool_results_and_resume_land_on_the_other(deployment):
    if len(deployment.servers) < 2:
        deployment.start_server()
    deployment.script(
        {"tool_calls": [{"name": "ask_user_input", "input": {"prompt": "Sure?"}}]},
        {"text": "confirmed " * 8, "chunk_chars": 5, "delay_ms": 30},
    )
    on_first, on_second = deployment.client(index=0), deployment.client(index=1)
    socket = await on_first.socket()
    step1 = await socket.ask({"query": "confirm"})
    (call,) = step1.tool_requests()
    session_id = session_of(step1)
    await socket.close()
    remote = await on_second.socket(session_id)
    await remote.send(
        {
            "session_id": session_id,
            "batch_tool_responses": [
                {
                    "tool_name": "ask_user_input",
                    "tool_use_id": call["tool_use_id"],
                    "response": {"user_response": "yes"},
                }
            ],
        }
    )
    partial = await remote.turn(stop_after=4)
    await remote.close()
    back = await on_first.socket()
    rest = await back.ask({"resume_query_id": partial.stream_id, "resume_offset_id": partial.events[-1]["message_id"]})
    assert partial.text + rest.text == "confirmed " * 8
    assert rest.compact()[-3:] == ["TC", "QC", "SECC"]
    # Cancel on one process stops a step running on the other.
    deployment.script({"text": "z" * 200, "chunk_chars": 2, "delay_ms": 30})
    await back.send({"query": "long", "session_id": session_id})
    await back.turn(stop_after=4)
    cancelled = await on_second.cancel(session_id)
    assert cancelled.json()["data"]["cancelled_steps"] == 1
    await asyncio.sleep(0.5)
    assert [r["event"] for r in deployment.requests()][-1] == "cancelled"
    await back.close()
