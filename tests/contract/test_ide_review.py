"""IDE review contract checks R1-R15 (docs/review-protocol.md §11) against real `adjutant serve` processes, with a
replay client that behaves like the extension and a scripted review model."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from app.review.conversation import REPORT_TOOL
from tests.conftest import EmbeddedServers
from tests.contract.conftest import Deployment, create_database, prepare
from tests.contract.review_client import Answer, ReviewClient

TOKEN_LIMIT = 4000
DIFF = (
    "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,4 @@\n def get(key):\n"
    "+    value = CACHE.get(key)\n+    return value.strip()\n     return None\n"
)
GREP_RESULT = [
    {
        "chunk_info": {
            "content": "CACHE = {}\nvalue = CACHE.get(key)",
            "source_details": {"file_path": "app/store.py", "start_line": 10, "end_line": 11},
        },
        "matched_line": [11],
    }
]
FILE_RESULT = {
    "data": {
        "chunk": {
            "content": "def get(key):\n    value = CACHE.get(key)",
            "source_details": {"file_path": "app/cache.py", "start_line": 1, "end_line": 2},
        },
        "eof_reached": False,
        "was_summary": False,
        "total_lines": 4,
    }
}


@pytest.fixture(scope="module")
def deployment(servers: EmbeddedServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The contract deployment with a small IDE token limit (R14) and a second server on the same stores (R8)."""
    workdir = tmp_path_factory.mktemp("ide-review")
    name = f"contract_{os.getpid()}_ide_review"
    database_url = asyncio.run(create_database(servers, name))
    deployment = prepare(
        workdir,
        database_url,
        servers.redis_url,
        f"adjrv{os.getpid() % 10**5}:",
        ADJUTANT_REVIEW__IDE_TOKEN_LIMIT=str(TOKEN_LIMIT),
    )
    deployment.tokens["ada"] = deployment.issue_token("ada@example.com")
    deployment.tokens["eve"] = deployment.issue_token("eve@example.com")
    deployment.start_server()
    try:
        yield deployment
    finally:
        deployment.stop()
        redis.Redis.from_url(servers.redis_url).close()


def client(deployment: Deployment, user: str = "ada", index: int = 0) -> ReviewClient:
    return ReviewClient(deployment.url(index), deployment.tokens[user])


def finding(line: int, title: str, evidence: str, **extra: Any) -> dict[str, Any]:
    return {
        "path": "app/cache.py",
        "line": line,
        "severity": "high",
        "category": "correctness",
        "confidence": 0.95,
        "title": title,
        "explanation": f"{title}: callers get an exception.",
        "evidence": evidence,
        **extra,
    }


NONE_ERROR = finding(
    3,
    "strip() on a missing value",
    "return value.strip()",
    explanation="When the key is absent the value is None and .strip() raises AttributeError.",
    suggestion="return (value or '').strip()",
)
KEY_ERROR = finding(
    2,
    "Cache read without a default",
    "value = CACHE.get(key)",
    category="error",
    explanation="Reading the shared dictionary without a fallback hides misses from every caller.",
)


def report(*entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": REPORT_TOOL, "id": "report", "input": {"findings": list(entries)}}], **extra}


def tool(name: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "id": call_id, "input": arguments}]}


GREP = tool("grep_search", "grep_1", search_path=".", query="CACHE", case_insensitive=False, use_regex=False)
READ = tool("iterative_file_reader", "read_1", file_path="app/cache.py", start_line=1, end_line=2)


def pre_process_body(diff: str = DIFF, *, repo_name: str = "shop") -> dict[str, Any]:
    return {
        "file_wise_diff": [
            {
                "file_path": "app/cache.py",
                "file_name": "cache.py",
                "status": "M",
                "line_changes": {"added": 2, "removed": 0},
                "diff": diff,
            },
            {
                "file_path": "README.md",
                "file_name": "README.md",
                "status": "M",
                "line_changes": {"added": 0, "removed": 0},
                "diff": "",
            },
        ],
        "source_branch": "feature/cache",
        "target_branch": "main",
        "source_commit": "1" * 40,
        "target_commit": "2" * 40,
        "origin_url": f"https://git.example.com/team/{repo_name}.git",
        "repo_name": repo_name,
        "review_type": "UNCOMMITTED_ONLY",
    }


async def new_review(c: ReviewClient, **kwargs: Any) -> int:
    return (await c.data("POST", "/pre-process", json=pre_process_body(**kwargs)))["review_id"]


async def agent_ids(c: ReviewClient) -> dict[str, int]:
    return {a["agent_name"]: a["id"] for a in (await c.data("GET", "/agents"))["agents"]}


def tool_results_seen(deployment: Deployment) -> list[dict[str, Any]]:
    """The tool results in the last model call's messages."""
    last = deployment.model_calls()[-1]
    return [p for m in last["messages"] for p in m["parts"] if p["type"] == "tool_result"]


async def answer_tools(request: dict[str, Any]) -> dict[str, Any]:
    return {"response": GREP_RESULT if request["data"]["tool_name"] == "grep_search" else FILE_RESULT}


def compact(answer: Answer) -> list[str]:
    return answer.types


async def test_r1_concurrent_first_listings_share_five_default_agents(deployment: Deployment):
    c = client(deployment, "eve")
    first, second = await asyncio.gather(c.data("GET", "/agents"), c.data("GET", "/agents/"))
    assert first["count"] == second["count"] == 5
    assert [a["id"] for a in first["agents"]] == [a["id"] for a in second["agents"]]
    assert {a["display_name"] for a in first["agents"]} == {
        "Security",
        "Documentation",
        "Performance Optimization",
        "Code Maintainability",
        "Error",
    }


async def test_r2_r10_r11_one_agent_with_two_tools_then_post_process(deployment: Deployment):
    c = client(deployment)
    agents = await agent_ids(c)
    review_id = await new_review(c)
    deployment.script(GREP, READ, report(NONE_ERROR, KEY_ERROR, {"path": "app/cache.py", "line": 0}))
    answers, terminals = await c.run_review(review_id, [agents["security"]], answer_tools)
    assert [compact(a) for a in answers] == [
        ["STREAM_START", "AGENT_START", "TOOL_USE_REQUEST", "STREAM_END"],
        ["STREAM_START", "TOOL_USE_REQUEST", "STREAM_END"],
        ["STREAM_START", "AGENT_COMPLETE", "STREAM_END"],
    ]
    assert terminals == {agents["security"]: ["AGENT_COMPLETE"]}
    request = answers[0].of("TOOL_USE_REQUEST")[0]
    assert request["agent_id"] == agents["security"] and request["data"]["tool_name"] == "grep_search"
    assert (
        request["data"]["tool_input"] == GREP["tool_calls"][0]["input"] and request["data"]["tool_use_id"] == "grep_1"
    )
    calls = deployment.model_calls()
    assert len(calls) == 3 and set(calls[0]["tools"]) == {
        "grep_search",
        "iterative_file_reader",
        "file_path_searcher",
        REPORT_TOOL,
    }
    grep_seen = [p for m in calls[1]["messages"] for p in m["parts"] if p["type"] == "tool_result"]
    assert "app/store.py:10-11" in grep_seen[-1]["content"][0]["text"] and not grep_seen[-1]["is_error"]  # bare array
    assert "app/cache.py:1-2" in tool_results_seen(deployment)[-1]["content"][0]["text"]

    # R10: post-process twice, then the review leads the history with a date
    for _ in range(2):
        done = await c.post_process(review_id)
        assert compact(done) == ["STREAM_START", "POST_PROCESS_START", "POST_PROCESS_COMPLETE", "STREAM_END"]
        assert done.frames[0]["data"]["type"] == "STREAM_START"
        assert done.frames[2]["data"]["result"] == {"status": "COMPLETED"}
    history = await c.data("GET", "/history", params={"source_branch": "feature/cache", "repo_id": "0"})
    top = history[0]
    assert top["id"] == review_id and top["review_datetime"] and top["meta"] == {"file_count": 2, "comment_count": 2}
    assert top["comments"]["README.md"] == []
    by_line = {c["line_number"]: c for c in top["comments"]["app/cache.py"]}
    assert set(by_line) == {2, 3} and by_line[3]["corrective_code"] == "return (value or '').strip()"
    assert by_line[2]["tag"] == "bug" and by_line[2]["comment_status"] == "NOT_REVIEWED"
    await c.close()


async def test_r3_r11_three_agents_interleaved_and_one_line_blended(deployment: Deployment):
    c = client(deployment)
    agents = await agent_ids(c)
    chosen = [agents["security"], agents["error"], agents["code_maintainability"]]
    review_id = await new_review(c, repo_name="interleaved")
    same_line = report(KEY_ERROR, delay_ms=30)
    deployment.script({**GREP, "delay_ms": 50}, {**READ, "delay_ms": 20}, same_line, same_line, report(delay_ms=10))
    answers, terminals = await c.run_review(review_id, chosen, answer_tools)
    first = answers[0]
    assert first.types[0] == "STREAM_START" and first.types[-1] == "STREAM_END"
    for types in first.by_agent().values():  # one outcome per item, after its AGENT_START
        assert types[0] == "AGENT_START" and len(types) == 2 and types[1] in ("TOOL_USE_REQUEST", "AGENT_COMPLETE")
    assert sorted(first.by_agent()) == sorted(chosen)
    assert {agent: kinds for agent, kinds in terminals.items()} == {a: ["AGENT_COMPLETE"] for a in chosen}
    for answer in answers[1:]:
        assert len([f for f in answer.frames if f["agent_id"] is not None]) == 1

    assert compact(await c.post_process(review_id))[2] == "POST_PROCESS_COMPLETE"
    top = (await c.data("GET", "/history"))[0]
    assert top["id"] == review_id
    line_two = [x for x in top["comments"]["app/cache.py"] if x["line_number"] == 2]
    assert len(line_two) == 1 and len(line_two[0]["agent_ids"]) == 2  # R11: two agents, one comment
    assert {s["id"]: s["count"] for s in top["agent_summary"]} == {a: 1 for a in line_two[0]["agent_ids"]}
    await c.close()


async def test_r4_a_failed_tool_reaches_the_model_with_its_type_and_message(deployment: Deployment):
    c = client(deployment)
    agents = await agent_ids(c)
    review_id = await new_review(c, repo_name="failing-tool")
    deployment.script(READ, report())
    first = await c.start(review_id, [agents["error"]])
    error = {
        "error_code": "DDT400",
        "error_type": "HANDLED_TOOL_ERROR",
        "error_subtype": None,
        "error_message": "File app/cache.py not found",
    }
    answer = await c.continue_tool(review_id, first.of("TOOL_USE_REQUEST")[0], error, failed=True)
    assert compact(answer) == ["STREAM_START", "AGENT_COMPLETE", "STREAM_END"]
    seen = tool_results_seen(deployment)[-1]
    assert seen["is_error"] and "HANDLED_TOOL_ERROR" in seen["content"][0]["text"]
    assert "File app/cache.py not found" in seen["content"][0]["text"]
    await c.close()


async def test_r5_r7_unknown_deleted_and_foreign_agents_fail_alone(deployment: Deployment):
    ada, eve = client(deployment), client(deployment, "eve")
    agents = await agent_ids(ada)
    eves = await agent_ids(eve)
    custom = await ada.data("POST", "/agents", json={"name": "Temporary", "custom_prompt": "Look for typos."})
    await ada.data("DELETE", f"/agents/{custom['id']}")
    review_id = await new_review(ada, repo_name="stale-agents")
    deployment.script(report())
    answer = await ada.start(review_id, [987654, custom["id"], eves["security"], agents["performance_optimisation"]])
    outcomes = answer.by_agent()
    for stale in (987654, custom["id"], eves["security"]):
        assert outcomes[stale] == ["AGENT_FAIL"] and answer.of("AGENT_FAIL")
    assert outcomes[agents["performance_optimisation"]] == ["AGENT_START", "AGENT_COMPLETE"]
    # R7: eve cannot run, continue or post-process ada's review; ada's review is untouched
    foreign = await eve.start(review_id, [eves["error"]])
    assert (
        compact(foreign) == ["STREAM_START", "AGENT_FAIL", "STREAM_END"]
        and foreign.frames[1]["agent_id"] == eves["error"]
    )
    assert "POST_PROCESS_ERROR" in compact(await eve.post_process(review_id))
    assert (
        await eve.rest("GET", "/end_user/v1/ide-reviews/cancel_review", params={"review_id": review_id})
    ).status_code == 404
    assert compact(await ada.post_process(review_id))[2] == "POST_PROCESS_COMPLETE"
    await ada.close()
    await eve.close()


async def test_r6_stale_and_post_cancel_continuations_are_answered_silently(deployment: Deployment):
    c = client(deployment)
    agents = await agent_ids(c)
    review_id = await new_review(c, repo_name="stale")
    deployment.script(GREP, report())
    request = (await c.start(review_id, [agents["security"]])).of("TOOL_USE_REQUEST")[0]
    stale = {**request, "data": {**request["data"], "tool_use_id": "not-the-pending-one"}}
    assert compact(await c.continue_tool(review_id, stale, [])) == ["STREAM_START", "STREAM_END"]
    again = await c.start(review_id, [agents["security"]])  # a second query for a started agent: no frame for it
    assert compact(again) == ["STREAM_START", "STREAM_END"]
    await c.data("GET", "/cancel_review", params={"review_id": review_id})
    assert compact(await c.continue_tool(review_id, request, GREP_RESULT)) == ["STREAM_START", "STREAM_END"]
    assert len(deployment.model_calls()) == 1  # nothing after the first step reached the model
    await c.close()


async def test_r7_foreign_comment_ids_answer_like_unknown_ones(deployment: Deployment):
    ada, eve = client(deployment), client(deployment, "eve")
    agents = await agent_ids(ada)
    review_id = await new_review(ada, repo_name="comments")
    deployment.script(report(KEY_ERROR))
    await ada.start(review_id, [agents["error"]])
    await ada.post_process(review_id)
    comment_id = (await ada.data("GET", "/history"))[0]["comments"]["app/cache.py"][0]["id"]
    base = "/end_user/v1/ide-reviews/comments"
    calls = [
        (
            "POST",
            f"{base}/update-comment-status",
            {"params": {"comment_id": comment_id, "status": "RESOLVED"}, "json": {}},
        ),
        ("POST", f"{base}/{comment_id}/feedback", {"json": {"like": False}}),
        ("GET", f"{base}/generate-fix-query", {"params": {"comment_id": comment_id}}),
    ]
    for method, path, kwargs in calls:
        foreign = await eve.rest(method, path, **kwargs)
        unknown = await eve.rest(
            method,
            path.replace(str(comment_id), "987654321"),
            **{k: ({**v, "comment_id": 987654321} if k == "params" else v) for k, v in kwargs.items()},
        )
        assert foreign.status_code == unknown.status_code == 404 and foreign.json()["error"] == unknown.json()["error"]
    shown = (await ada.data("GET", "/history"))[0]["comments"]["app/cache.py"][0]
    assert shown["comment_status"] == "NOT_REVIEWED" and shown["feedback"] is None
    await ada.close()


async def test_r8_cancel_stops_a_running_step_from_another_worker_within_a_second(deployment: Deployment):
    if len(deployment.servers) < 2:
        deployment.start_server()
    runner, canceller = client(deployment, index=0), client(deployment, index=1)
    agents = await agent_ids(runner)
    review_id = await new_review(runner, repo_name="cancelled")
    deployment.script({"text": "still thinking " * 80, "chunk_chars": 4, "delay_ms": 50, **report(KEY_ERROR)})
    socket = await runner.socket()
    items = [{"agent_id": agents["security"], "review_id": review_id, "type": "query"}]
    await socket.send(runner.message(review_id, items))
    assert (await socket.frame())["type"] == "STREAM_START"
    assert (await socket.frame())["type"] == "AGENT_START"
    while not deployment.model_calls():  # noqa: ASYNC110 - another process writes the log
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    cancelled = await canceller.data("GET", "/cancel_review", params={"review_id": review_id})
    stopped_at = time.monotonic()
    assert cancelled["status"] == "CANCELLED"
    while not any(r["event"] == "cancelled" for r in deployment.requests()):
        assert time.monotonic() - stopped_at < 1.0, "the model call was not stopped within 1 s"
        await asyncio.sleep(0.02)
    rest = await socket.answer(timeout=5)
    assert [f["type"] for f in rest.frames] == ["STREAM_END"]
    assert await socket.silent_for(1.0) == []
    assert review_id not in [r["id"] for r in await runner.data("GET", "/history")]
    assert "POST_PROCESS_ERROR" in compact(await runner.post_process(review_id))
    await runner.close()


async def test_r9_connection_errors_are_in_band_and_the_socket_stays_open(deployment: Deployment):
    c = client(deployment)
    message = {
        "action": "run-agent",
        "review_id": 1,
        "agents": [{"agent_id": 5, "review_id": 1, "type": "query"}, {"agent_id": 6}],
    }
    bad_token = await c.socket(
        headers={"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0", "Authorization": "Bearer nope"}
    )
    for _ in range(2):  # the connection stays usable
        answer = await bad_token.ask({**message, "auth_token": "nope"})
        error = answer.frames[0]
        assert (error["type"], error["status"], error["agent_id"], error["data"]) == (
            "STREAM_ERROR",
            "NOT_VERIFIED",
            None,
            {},
        )
        assert compact(answer)[1:] == ["AGENT_FAIL", "AGENT_FAIL", "STREAM_END"]
        assert [f["agent_id"] for f in answer.of("AGENT_FAIL")] == [5, 6]
    old = await c.socket(headers={**c.headers(), "X-Client-Version": "1.0.0"})
    answer = await old.ask(message)
    error = answer.frames[0]
    assert error["status"] == "INVALID_CLIENT_VERSION" and error["message"]["error_code"] == 101
    assert error["message"]["upgrade_version"] and compact(answer)[1:] == ["AGENT_FAIL", "AGENT_FAIL", "STREAM_END"]
    # no Authorization header: the message's auth_token is used
    body_only = await c.socket(headers={"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0"})
    agents = await agent_ids(c)
    review_id = await new_review(c, repo_name="body-token")
    deployment.script(report())
    answer = await body_only.ask(
        c.message(review_id, [{"agent_id": agents["error"], "review_id": review_id, "type": "query"}])
    )
    assert compact(answer) == ["STREAM_START", "AGENT_START", "AGENT_COMPLETE", "STREAM_END"]
    for unreadable in ("not json", b"\x00binary", "[1, 2]", json.dumps({"x": "y" * (1024 * 1024)})):
        assert compact(await body_only.ask(unreadable)) == ["STREAM_START", "STREAM_END"]
    post = await c.socket(
        "post", headers={"X-Client": "VSCODE_EXT", "X-Client-Version": "16.1.0", "Authorization": "Bearer nope"}
    )
    answer = await post.ask({"action": "post-process", "review_id": review_id})
    assert compact(answer) == ["STREAM_ERROR", "POST_PROCESS_ERROR", "STREAM_END"]
    assert all(s.open for s in (bad_token, old, body_only, post))
    await c.close()


async def test_r10_post_process_of_a_review_without_comments(deployment: Deployment):
    c = client(deployment)
    agents = await agent_ids(c)
    review_id = await new_review(c, repo_name="clean")
    deployment.script(report(), report())
    _, terminals = await c.run_review(review_id, [agents["security"], agents["code_communication"]], answer_tools)
    assert terminals == {agents["security"]: ["AGENT_COMPLETE"], agents["code_communication"]: ["AGENT_COMPLETE"]}
    assert {c for call in deployment.model_calls() for c in call["tools"]} >= {REPORT_TOOL}
    assert any(call["tools"] == [REPORT_TOOL] for call in deployment.model_calls())  # Documentation has no tools
    for _ in range(2):
        assert compact(await c.post_process(review_id)) == [
            "STREAM_START",
            "POST_PROCESS_START",
            "POST_PROCESS_COMPLETE",
            "STREAM_END",
        ]
    top = (await c.data("GET", "/history"))[0]
    assert top["id"] == review_id and top["meta"]["comment_count"] == 0 and top["review_datetime"]
    await c.close()


async def test_r12_comment_status_feedback_and_fix_query(deployment: Deployment):
    c = client(deployment)
    agents = await agent_ids(c)
    review_id = await new_review(c, repo_name="feedback")
    deployment.script(report(NONE_ERROR))
    await c.start(review_id, [agents["error"]])
    await c.post_process(review_id)
    comment_id = (await c.data("GET", "/history"))[0]["comments"]["app/cache.py"][0]["id"]
    for status in ("RESOLVED", "NOT_REVIEWED"):
        await c.data(
            "POST", "/comments/update-comment-status", params={"comment_id": comment_id, "status": status}, json={}
        )
    for body in ({"like": True}, {"like": True}, {"like": True, "feedback_comment": "Spot on"}):
        await c.data("POST", f"/comments/{comment_id}/feedback", json=body)
    shown = (await c.data("GET", "/history"))[0]["comments"]["app/cache.py"][0]
    assert shown["comment_status"] == "NOT_REVIEWED"
    assert shown["feedback"] == {"like": True, "feedback_comment": "Spot on"}
    fix = (await c.data("GET", "/comments/generate-fix-query", params={"comment_id": comment_id}))["fix_query"]
    assert "app/cache.py" in fix and "line 3" in fix and "return (value or '').strip()" in fix


async def test_r13_an_idle_socket_stays_open_and_answers_pings(deployment: Deployment):
    c = client(deployment)
    socket = await c.socket(ping_interval=1, ping_timeout=2)
    assert compact(await socket.ask("{}")) == ["STREAM_START", "STREAM_END"]
    await asyncio.sleep(4)
    pong = await socket.ws.ping()
    await asyncio.wait_for(pong, 2)
    assert socket.open and compact(await socket.ask("{}")) == ["STREAM_START", "STREAM_END"]
    await c.close()


async def test_r14_a_rejected_review_fails_every_agent_with_the_reason(deployment: Deployment):
    c = client(deployment)
    agents = await agent_ids(c)
    big = "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -0,0 +1,900 @@\n" + "".join(
        f"+setting_{i} = load('key_{i}')\n" for i in range(900)
    )
    created = await c.data("POST", "/pre-process", json=pre_process_body(big, repo_name="huge"))
    assert created["review_id"] > 0 and created["session_id"] > 0
    deployment.script(report())
    answer = await c.start(created["review_id"], list(agents.values()))
    fails = answer.of("AGENT_FAIL")
    assert sorted(f["agent_id"] for f in fails) == sorted(agents.values()) and not answer.of("AGENT_START")
    assert all("too large" in f["data"]["message"] and str(TOKEN_LIMIT) in f["data"]["message"] for f in fails)
    assert deployment.model_calls() == []
    assert "POST_PROCESS_ERROR" in compact(await c.post_process(created["review_id"]))
    empty = await c.data("POST", "/pre-process", json={**pre_process_body(""), "repo_name": "empty"})
    answer = await c.start(empty["review_id"], [agents["error"]])
    assert "no changes" in answer.of("AGENT_FAIL")[0]["data"]["message"]
    await c.close()


def test_r15_the_binary_gets_the_maximum_diff_size(deployment: Deployment):
    response = httpx.get(
        deployment.url() + "/end_user/v1/configs/get-configs",
        params={"consumer": "BINARY"},
        headers={
            "X-Client": "BINARY",
            "X-Client-Version": "16.1.0",
            "Authorization": f"Bearer {deployment.tokens['ada']}",
        },
    )
    assert response.status_code == 200, response.text
    size = response.json()["data"]["CODE_REVIEW"]["MAX_DIFF_SIZE"]
    assert isinstance(size, int) and not isinstance(size, bool) and size > 0
