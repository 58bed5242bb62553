"""docs/protocol.md §12 scenarios C1-C8 and C16 against a real server process with the scripted provider."""

from __future__ import annotations

import asyncio
import json

from tests.contract.client import history_shape

FINAL = ["SS", "SI", "RM", "T", "TC", "QC", "SECC"]


def session_of(turn) -> int:
    return turn.of("RESPONSE_METADATA")[0]["data"]["content"]["session_id"]


def assert_step_invariants(turn) -> None:
    """Always asserted (§12.1): SS has no message_id, RM.query_id is 32 hex chars, nothing after the end."""
    assert "message_id" not in turn.frames[0]
    metadata = turn.of("RESPONSE_METADATA")
    if metadata:
        stream_id = metadata[0]["data"]["content"]["query_id"]
        assert len(stream_id) == 32 and all(c in "0123456789abcdef" for c in stream_id)


async def test_c1_new_chat_text_only(deployment):
    deployment.script({"text": "Hello world", "chunk_chars": 3})
    client = deployment.client()
    socket = await client.socket()
    turn = await socket.ask({"query": "hi"})
    assert turn.compact() == FINAL
    assert_step_invariants(turn)
    assert turn.text == "Hello world"
    session_id = session_of(turn)
    completion = turn.of("TASK_COMPLETION")[0]["data"]["content"]
    assert isinstance(completion["query_id"], int) and completion["success"] is True
    chats = await client.chats(session_id)
    assert history_shape(chats) == ["USER/TEXT", "ASSISTANT/TEXT"]
    assert [c["message_data"]["text"] for c in chats] == ["hi", "Hello world"]
    listed = (
        await client.rest(
            "GET", "/end_user/v1/history/sessions", params={"sessions_list_type": "UNPINNED", "limit": 20}
        )
    ).json()["data"]
    entry = next(s for s in listed["sessions"] if s["id"] == session_id)
    assert entry["summary"]
    await asyncio.sleep(1)
    assert socket.ws.state.name == "OPEN", "the socket stays open after the end event"
    await socket.close()


async def test_c2_and_c3_follow_ups_on_the_same_and_a_new_socket(deployment):
    deployment.script({"text": "first"}, {"text": "second"}, {"text": "third"}, {"text": "fourth"})
    client = deployment.client()
    socket = await client.socket()
    first = await socket.ask({"query": "one"})
    session_id = session_of(first)
    before = (await client.rest("GET", "/end_user/v1/history/sessions")).json()["data"]["sessions"]
    updated_before = next(s for s in before if s["id"] == session_id)["updated_at"]
    second = await socket.ask({"query": "two", "session_id": session_id})
    assert second.compact() == FINAL and session_of(second) == session_id
    assert second.stream_id != first.stream_id
    assert (
        second.of("TASK_COMPLETION")[0]["data"]["content"]["query_id"]
        != first.of("TASK_COMPLETION")[0]["data"]["content"]["query_id"]
    )
    assert len(await client.chats(session_id)) == 4
    after = (await client.rest("GET", "/end_user/v1/history/sessions")).json()["data"]["sessions"]
    assert len(after) == len(before)
    assert next(s for s in after if s["id"] == session_id)["updated_at"] > updated_before
    await socket.close()
    # C3: a new socket with X-Session-ID, with and without session_id in the payload.
    other = await client.socket(session_id)
    third = await other.ask({"query": "three", "session_id": session_id})
    fourth = await other.ask({"query": "four"})
    assert session_of(third) == session_of(fourth) == session_id
    assert len(await client.chats(session_id)) == 8
    await other.close()


async def test_c3_another_users_session_is_not_found_and_untouched(deployment):
    deployment.script({"text": "mine"})
    ada, eve = deployment.client("ada"), deployment.client("eve")
    socket = await ada.socket()
    session_id = session_of(await socket.ask({"query": "private"}))
    history_before = await ada.chats(session_id)
    intruder = await eve.socket(session_id)
    turn = await intruder.ask({"query": "let me in", "session_id": session_id})
    assert turn.compact() == ["SS", "ERR(SESSION_NOT_FOUND)"]
    assert intruder.ws.state.name == "OPEN"
    assert await ada.chats(session_id) == history_before
    assert (await eve.rest("GET", "/end_user/v1/history/chats", session_id)).status_code == 404
    await socket.close()
    await intruder.close()


async def test_c4_single_tool_turn(deployment):
    tool_input = {"file_path": "src/app.py", "repo_path": "/repo"}
    deployment.script(
        {
            "text": "Let me read it.",
            "tool_calls": [{"name": "iterative_file_reader", "input": tool_input}],
            "chunk_chars": 5,
        },
        {"text": "Done"},
    )
    client = deployment.client()
    socket = await client.socket()
    step1 = await socket.ask({"query": "read app.py", "repoPath": "/repo"})
    assert step1.compact() == ["SS", "SI", "RM", "T", "TU(iterative_file_reader)", "SE"]
    (call,) = step1.tool_requests()
    assert call["input"] == tool_input
    session_id = session_of(step1)
    response = {
        "data": {
            "chunk": {
                "content": "print('hi')",
                "source_details": {"file_path": "src/app.py", "start_line": 1, "end_line": 1},
            },
            "eof_reached": True,
            "was_summary": False,
            "total_lines": 1,
        }
    }
    step2 = await socket.ask(
        {
            "session_id": session_id,
            "batch_tool_responses": [
                {
                    "tool_name": "iterative_file_reader",
                    "tool_use_id": call["tool_use_id"],
                    "response": response,
                    "status": "COMPLETED",
                }
            ],
        }
    )
    assert step2.compact() == FINAL and step2.text == "Done"
    assert step2.stream_id != step1.stream_id
    last_request = deployment.model_calls()[-1]
    tool_message = next(m for m in reversed(last_request["messages"]) if m["role"] == "tool")
    assert "print('hi')" in tool_message["parts"][0]["content"][0]["text"]
    chats = await client.chats(session_id)
    assert history_shape(chats) == ["USER/TEXT", "ASSISTANT/TEXT", "ASSISTANT/TOOL_USE", "ASSISTANT/TEXT"]
    tool_use = chats[2]["message_data"]
    assert tool_use["tool_status"] == "COMPLETED" and tool_use["tool_input"] == tool_input
    assert tool_use["tool_response"] == response
    await socket.close()


async def test_c5_two_tools_partial_batches_and_results_in_call_order(deployment):
    deployment.script(
        {
            "tool_calls": [
                {
                    "name": "grep_search",
                    "input": {
                        "search_path": ".",
                        "query": "TODO",
                        "case_insensitive": True,
                        "use_regex": False,
                        "repo_path": "/r",
                    },
                },
                {"name": "file_path_searcher", "input": {"directory": ".", "repo_path": "/r"}},
            ]
        },
        {"text": "All done"},
    )
    client = deployment.client()
    socket = await client.socket()
    step1 = await socket.ask({"query": "find todos"})
    assert step1.compact() == ["SS", "SI", "RM", "TU(grep_search)", "TU(file_path_searcher)", "SE"]
    grep, finder = step1.tool_requests()
    session_id = session_of(step1)
    calls_before = len(deployment.model_calls())
    ack = await socket.ask(
        {
            "session_id": session_id,
            "batch_tool_responses": [
                {
                    "tool_name": "file_path_searcher",
                    "tool_use_id": finder["tool_use_id"],
                    "response": {"file_path_search": {"data": ["a.py"]}},
                }
            ],
        }
    )
    assert ack.compact() == ["SS", "SI", "RM", "SE"], "a partial batch is acknowledged without a model call"
    assert len(deployment.model_calls()) == calls_before
    final = await socket.ask(
        {
            "session_id": session_id,
            "batch_tool_responses": [
                {"tool_name": "grep_search", "tool_use_id": grep["tool_use_id"], "response": {"data": []}}
            ],
        }
    )
    assert final.compact() == FINAL
    tool_message = next(m for m in reversed(deployment.model_calls()[-1]["messages"]) if m["role"] == "tool")
    assert [p["tool_call_id"] for p in tool_message["parts"]] == [grep["tool_use_id"], finder["tool_use_id"]]
    statuses = [
        c["message_data"]["tool_status"]
        for c in await client.chats(session_id)
        if c["message_data"]["message_type"] == "TOOL_USE"
    ]
    assert statuses == ["COMPLETED", "COMPLETED"]
    await socket.close()


async def test_c5_a_new_query_aborts_unanswered_tools(deployment):
    deployment.script(
        {
            "tool_calls": [
                {
                    "name": "grep_search",
                    "input": {
                        "search_path": ".",
                        "query": "x",
                        "case_insensitive": False,
                        "use_regex": False,
                        "repo_path": "/r",
                    },
                }
            ]
        },
        {"text": "ok, something else"},
    )
    client = deployment.client()
    socket = await client.socket()
    step1 = await socket.ask({"query": "search"})
    session_id = session_of(step1)
    turn = await socket.ask({"query": "never mind", "session_id": session_id})
    assert turn.compact() == FINAL
    tool = next(c for c in await client.chats(session_id) if c["message_data"]["message_type"] == "TOOL_USE")
    assert tool["message_data"]["tool_status"] == "ABORTED"
    messages = deployment.model_calls()[-1]["messages"]
    tool_message = next(m for m in messages if m["role"] == "tool")
    assert tool_message["parts"][0]["is_error"] is True and "aborted" in tool_message["parts"][0]["content"][0]["text"]
    await socket.close()


async def test_c6_failed_tools_reach_the_model_as_errors(deployment):
    deployment.script(
        {"tool_calls": [{"name": "semantic_search", "input": {"query": "q", "explanation": "e", "repo_path": "/r"}}]},
        {"text": "Sorry"},
    )
    client = deployment.client()
    socket = await client.socket()
    step1 = await socket.ask({"query": "find it", "is_embeddings_ready": True})
    (call,) = step1.tool_requests()
    failed = {"relevant_code_snippets": {"error_code": 500, "error_type": "SERVER_ERROR", "error_message": "boom"}}
    final = await socket.ask(
        {
            "session_id": session_of(step1),
            "is_embeddings_ready": True,
            "batch_tool_responses": [
                {
                    "tool_name": "semantic_search",
                    "tool_use_id": call["tool_use_id"],
                    "response": failed,
                    "status": "FAILED",
                }
            ],
        }
    )
    assert final.compact() == FINAL
    part = next(m for m in reversed(deployment.model_calls()[-1]["messages"]) if m["role"] == "tool")["parts"][0]
    assert part["is_error"] is True and "boom" in part["content"][0]["text"]
    tool = next(c for c in await client.chats(session_of(step1)) if c["message_data"]["message_type"] == "TOOL_USE")
    assert tool["message_data"]["tool_status"] == "FAILED"
    await socket.close()


async def test_c7_ask_user_input_is_answered_on_a_new_socket(deployment):
    deployment.script(
        {"tool_calls": [{"name": "ask_user_input", "input": {"prompt": "Which file?"}}]}, {"text": "Reading a.py"}
    )
    client = deployment.client()
    socket = await client.socket()
    step1 = await socket.ask({"query": "open the file"})
    assert step1.compact() == ["SS", "SI", "RM", "TU(ask_user_input)", "SE"]
    (call,) = step1.tool_requests()
    session_id = session_of(step1)
    before = await client.chats(session_id)
    assert history_shape(before) == ["USER/TEXT", "ASSISTANT/TEXT"]
    assert before[1]["message_data"]["text"] == "Which file?"
    await socket.close()
    fresh = await client.socket(session_id)
    final = await fresh.ask(
        {
            "batch_tool_responses": [
                {
                    "tool_name": "ask_user_input",
                    "tool_use_id": call["tool_use_id"],
                    "response": {"user_response": "a.py"},
                }
            ],
            "session_id": session_id,
        }
    )
    assert final.compact() == FINAL
    chats = await client.chats(session_id)
    assert history_shape(chats) == ["USER/TEXT", "ASSISTANT/TEXT", "USER/TEXT", "ASSISTANT/TEXT"]
    assert chats[2]["message_data"]["text"] == "a.py"
    tool_message = next(m for m in reversed(deployment.model_calls()[-1]["messages"]) if m["role"] == "tool")
    assert "a.py" in tool_message["parts"][0]["content"][0]["text"]
    await fresh.close()


async def test_c8_malformed_tool_call_and_the_malformed_retry(deployment):
    bad = {"tool_calls": [{"name": "no_such_tool", "input": {"x": 1}}]}
    deployment.script(bad, bad, bad, {"text": "Recovered"})
    client = deployment.client()
    socket = await client.socket()
    payload = {"query": "do something"}
    step1 = await socket.ask(payload)
    assert step1.compact() == ["SS", "SI", "RM", "MAL", "SE"]
    assert not step1.of("TOOL_USE_REQUEST_START")
    malformed = step1.of("MALFORMED_TOOL_USE_REQUEST")[0]["data"]["content"]
    assert len(malformed["raw_payload"]) <= 4096 and malformed["reason"]
    session_id = session_of(step1)
    canned = "The tool was unavailable or malformed; here is the raw payload; continue."
    retry = await socket.ask({**payload, "query": canned, "batch_tool_responses": [], "session_id": session_id})
    assert retry.compact() == FINAL
    first_query = (await client.chats(session_id))[0]
    assert retry.of("TASK_COMPLETION")[0]["data"]["content"]["query_id"] == await first_query_id(deployment, session_id)
    texts = [c["message_data"].get("text") for c in await client.chats(session_id) if c["actor"] == "USER"]
    assert texts == ["do something"] and first_query["message_data"]["text"] == "do something"
    await socket.close()


async def first_query_id(deployment, session_id: int) -> int:
    import asyncpg

    conn = await asyncpg.connect(deployment.database_url)
    try:
        return await conn.fetchval("SELECT min(id) FROM user_queries WHERE session_id = $1", session_id)
    finally:
        await conn.close()


async def test_c8_a_call_fixed_on_internal_retry_shows_no_malformed_frame(deployment):
    deployment.script(
        {"tool_calls": [{"name": "grep_search", "raw_arguments": "{not json"}]},
        {
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
            ]
        },
    )
    socket = await deployment.client().socket()
    turn = await socket.ask({"query": "grep"})
    assert turn.compact() == ["SS", "SI", "RM", "TU(grep_search)", "SE"]
    notice = deployment.model_calls()[-1]["messages"][-1]
    assert notice["role"] == "user" and "could not be used" in notice["parts"][0]["text"]
    await socket.close()


async def test_c16_step_cap_ends_with_a_tool_less_call(deployment):
    grep = {
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
        ]
    }
    deployment.script(grep, mode="repeat")
    client = deployment.client()
    socket = await client.socket()
    turn = await socket.ask({"query": "loop forever"})
    session_id = session_of(turn)
    for _ in range(3):
        assert turn.compact() == ["SS", "SI", "RM", "TU(grep_search)", "SE"]
        (call,) = turn.tool_requests()
        turn = await socket.ask(
            {
                "session_id": session_id,
                "batch_tool_responses": [
                    {"tool_name": "grep_search", "tool_use_id": call["tool_use_id"], "response": {"data": []}}
                ],
            }
        )
        if "TC" in turn.compact():
            break
    # After the third batch: one model call without tools, success false.
    assert "TC" in turn.compact() and turn.compact()[-3:] == ["TC", "QC", "SECC"]
    assert turn.of("TASK_COMPLETION")[0]["data"]["content"]["success"] is False
    assert deployment.model_calls()[-1]["tools"] == []
    assert any(c["actor"] == "SYSTEM" for c in await client.chats(session_id))
    await socket.close()


async def test_chat_payload_is_json(deployment):
    socket = await deployment.client().socket()
    await socket.send("not json")
    turn = await socket.turn()
    assert turn.compact() == ["SS", "ERR(INVALID_REQUEST)"]
    await socket.send(b"\x00binary")
    assert (await socket.turn()).compact() == ["SS", "ERR(INVALID_REQUEST)"]
    await socket.send(json.dumps({"neither": "query nor tools"}))
    assert (await socket.turn()).compact() == ["SS", "ERR(INVALID_REQUEST)"]
    await socket.close()


async def sse_frames(client, path: str, body: dict) -> list[dict]:
    import httpx

    async with httpx.AsyncClient(base_url=client.base_url, timeout=20) as http:
        response = await http.post(path, json=body, headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]


async def test_sse_clients_get_the_same_frames_and_continue_with_tool_responses(deployment):
    deployment.script(
        {
            "text": "Reading.",
            "tool_calls": [{"name": "file_path_searcher", "input": {"directory": ".", "repo_path": "/r"}}],
        },
        {"text": "Found it"},
    )
    client = deployment.client()
    frames = await sse_frames(client, "/v1/query-solver/stream", {"query": "find files"})
    types = [f["data"]["type"] for f in frames]
    assert types[:3] == ["STREAM_START", "STREAM_INITIALIZED", "RESPONSE_METADATA"] and types[-1] == "STREAM_END"
    start = next(f for f in frames if f["data"]["type"] == "TOOL_USE_REQUEST_START")["data"]["content"]
    session_id = frames[2]["data"]["content"]["session_id"]
    import httpx

    async with httpx.AsyncClient(base_url=client.base_url) as http:
        refused = await http.post(
            "/v1/query-solver/stream", json={"query": "x"}, headers={"Authorization": "Bearer adj_" + "q" * 43}
        )
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "NOT_VERIFIED"
    final = await sse_frames(
        client,
        "/v1/query-solver/tool-response",
        {
            "session_id": session_id,
            "batch_tool_responses": [
                {
                    "tool_name": "file_path_searcher",
                    "tool_use_id": start["tool_use_id"],
                    "response": {"file_path_search": {"data": ["a.py"]}},
                }
            ],
        },
    )
    assert [f["data"]["type"] for f in final][-3:] == [
        "TASK_COMPLETION",
        "QUERY_COMPLETE",
        "STREAM_END_CLOSE_CONNECTION",
    ]
    assert "".join(f["data"]["content"]["text"] for f in final if f["data"]["type"] == "TEXT_DELTA") == "Found it"
    foreign = await sse_frames(
        deployment.client("eve"), "/v1/query-solver/stream", {"query": "hijack", "session_id": session_id}
    )
    assert [f["data"].get("status") for f in foreign] == [None, "SESSION_NOT_FOUND"]


async def test_adjutant_chat_runs_a_tool_round_trip_on_the_local_working_copy(deployment, tmp_path):
    import subprocess
    import sys

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").write_text("the secret word is tangerine\n")
    deployment.script(
        {
            "text": "Let me read it.",
            "tool_calls": [
                {"name": "iterative_file_reader", "input": {"file_path": "notes.txt", "repo_path": str(repo)}}
            ],
        },
        {"text": "The word is tangerine."},
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "app.cli.main",
            "chat",
            "-m",
            "what is the secret word?",
            "--repo",
            str(repo),
            "--yes",
            "--server",
            deployment.url(),
            "--token",
            deployment.tokens["ada"],
        ],
        env={**deployment.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "iterative_file_reader" in result.stdout and "The word is tangerine." in result.stdout
    tool_message = next(m for m in reversed(deployment.model_calls()[-1]["messages"]) if m["role"] == "tool")
    assert "tangerine" in tool_message["parts"][0]["content"][0]["text"]


async def test_tool_calls_beyond_the_per_step_cap_are_dropped_and_reported_to_the_model(deployment):
    calls = [{"name": "file_path_searcher", "input": {"directory": f"d{i}", "repo_path": "/r"}} for i in range(18)]
    deployment.script({"tool_calls": calls}, {"text": "ok"})
    client = deployment.client()
    socket = await client.socket()
    turn = await socket.ask({"query": "list everything"})
    requested = turn.tool_requests()
    assert len(requested) == 16 and [c["input"]["directory"] for c in requested] == [f"d{i}" for i in range(16)]
    final = await socket.ask(
        {
            "session_id": session_of(turn),
            "batch_tool_responses": [
                {
                    "tool_name": c["tool_name"],
                    "tool_use_id": c["tool_use_id"],
                    "response": {"file_path_search": {"data": []}},
                }
                for c in requested
            ],
        }
    )
    assert final.compact() == FINAL
    results = next(m for m in reversed(deployment.model_calls()[-1]["messages"]) if m["role"] == "tool")["parts"]
    assert len(results) == 18 and all(r["is_error"] for r in results[16:])
    assert "too many tool calls" in results[17]["content"][0]["text"]
    await socket.close()


async def test_a_second_query_while_a_step_runs_is_session_busy(deployment):
    deployment.script({"text": "slow " * 30, "chunk_chars": 5, "delay_ms": 30}, {"text": "later"})
    client = deployment.client()
    socket = await client.socket()
    await socket.send({"query": "first"})
    head = await socket.turn(stop_after=3)
    other = await client.socket(session_of(head))
    busy = await other.ask({"query": "second", "session_id": session_of(head)})
    assert busy.compact() == ["SS", "ERR(SESSION_BUSY)"]
    while (await socket.frame())["data"]["type"] != "STREAM_END_CLOSE_CONNECTION":
        pass
    assert (await other.ask({"query": "second", "session_id": session_of(head)})).compact() == FINAL
    await socket.close()
    await other.close()


async def test_the_generated_summary_replaces_the_provisional_one(deployment):
    deployment.script({"text": "answer", "chunk_chars": 2, "delay_ms": 20})
    client = deployment.client()
    socket = await client.socket()
    turn = await socket.ask({"query": "please explain the authentication flow of this service in detail"})
    summaries = turn.of("SESSION_SUMMARY")
    assert len(summaries) <= 1
    for _ in range(50):
        sessions = (await client.rest("GET", "/end_user/v1/history/sessions", params={"limit": 100})).json()["data"]
        summary = next(s["summary"] for s in sessions["sessions"] if s["id"] == session_of(turn))
        if summary == "Greeting the assistant":
            break
        await asyncio.sleep(0.1)
    assert summary == "Greeting the assistant"
    if summaries:
        assert summaries[0]["data"]["content"] == {"session_id": session_of(turn), "summary": "Greeting the assistant"}
    await socket.close()


async def test_mcp_tools_from_the_client_are_offered_and_requested_by_name(deployment):
    deployment.script({"tool_calls": [{"name": "jira_search", "input": {"jql": "project = X"}}]})
    client = deployment.client()
    socket = await client.socket()
    mcp = {
        "name": "jira_search",
        "description": "Search Jira",
        "auto_approve": False,
        "input_schema": {"type": "object", "properties": {"jql": {"type": "string"}}, "required": ["jql"]},
        "tool_metadata": {"type": "MCP", "tool_name": "search", "server_id": "jira"},
    }
    shadow = {**mcp, "name": "grep_search", "description": "shadowing attempt"}
    turn = await socket.ask({"query": "find issues", "client_tools": [mcp, shadow]})
    assert turn.compact() == ["SS", "SI", "RM", "TU(jira_search)", "SE"]
    request = deployment.model_calls()[-1]
    assert request["tools"].count("grep_search") == 1 and "jira_search" in request["tools"]
    await socket.close()
