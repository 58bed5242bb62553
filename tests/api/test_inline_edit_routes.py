"""Inline-edit jobs: submit, poll, answer the tool a job asked for, get the edit; ownership, bounds,
deadlines and the step cap."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import asyncpg
import pytest

from app.db.models import InlineEditJob, Session, User
from app.db.repositories.chat import now
from app.db.repositories.identity import get_or_create_team
from tests.api.scripted_models import scripted_settings, unusable_models_settings
from tests.conftest import start_service, stop_service

SUBMIT = "/end_user/v2/code-gen/generate-inline-edit"
STATUS = "/end_user/v1/code-gen/get-job-status"
DIFF = "------- SEARCH\ndef add(a, b):\n=======\ndef add(a: int, b: int) -> int:\n+++++++ REPLACE"
BODY = {
    "query": "add type hints",
    "code_selection": {
        "selected_text": "def add(a, b):\n    return a + b",
        "file_path": "calc.py",
        "line_range": {"start_line": 3, "end_line": 4},
    },
    "repo_path": "/work/repo",
    "relevant_chunks": ["def sub(a: int, b: int) -> int:\n    return a - b"],
    "llm_model": "scripted",
    "search_web": False,
    "is_lsp_ready": False,
    "is_indexing_done": True,
    "some_future_field": {"ignored": True},
}
READ = {"name": "iterative_file_reader", "input": {"file_path": "calc.py", "repo_path": "/work/repo", "start_line": 1}}
EDIT = {"name": "replace_in_file", "input": {"path": "calc.py", "diff": DIFF}}


@pytest.fixture
def settings_and_scripts(database_url, redis_url, tmp_path):
    return scripted_settings(database_url, redis_url, tmp_path, **{"inline_edit.step_cap": 3})


@pytest.fixture
async def deployment(settings_and_scripts):
    settings, chat, _ = settings_and_scripts
    service = await start_service(settings)
    service.chat = chat
    service.token = await service.issue_token("ada@example.com")
    yield service
    await stop_service(service)


async def submit(service, body: dict, *, token: str | None = None, session_id: int | None = None) -> dict:
    headers = {"X-Session-ID": str(session_id)} if session_id is not None else {}
    response = await service.request("POST", SUBMIT, token=token or service.token, headers=headers, json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"job_id", "session_id"} and all(isinstance(v, int) for v in data.values())
    return data


async def settle(service, job_id: int, *, token: str | None = None, within_s: float = 10) -> dict:
    deadline = time.monotonic() + within_s
    while True:
        response = await service.request("GET", STATUS, token=token or service.token, params={"job_id": job_id})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if data["status"] != "PENDING" or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.05)


def tool_request(status: dict) -> dict:
    assert status["status"] == "COMPLETED", status
    assert set(status["response"]) == {"tool_use_request"}, "exactly one of the two keys"
    return status["response"]["tool_use_request"]["content"]


def answer(tool: dict, response: dict) -> dict:
    return {
        **BODY,
        "tool_use_response": {"tool_name": tool["tool_name"], "tool_use_id": tool["tool_use_id"], "response": response},
    }


def texts(message: dict) -> str:
    return "".join(p.get("text", "") for p in message["parts"] if p["type"] == "text")


async def test_a_tool_round_trip_ends_in_search_replace_snippets(deployment):
    deployment.chat.play(
        {"thinking": "I need the whole function.", "text": "Reading the file first.", "tool_calls": [READ]},
        {"text": "Adding the hints.", "tool_calls": [EDIT]},
    )
    first = await submit(deployment, BODY)
    tool = tool_request(await settle(deployment, first["job_id"]))
    assert tool["tool_name"] == "iterative_file_reader" and tool["tool_input"] == READ["input"]

    (call,) = deployment.chat.calls()
    assert call["purpose"] == "inline_edit"
    assert call["tools"] == ["iterative_file_reader", "grep_search", "replace_in_file", "task_completion"]
    system, user = call["messages"]
    assert system["role"] == "system" and "replace_in_file" in texts(system) and "/work/repo" in texts(system)
    prompt = texts(user)
    assert "add type hints" in prompt and "calc.py, lines 3-4" in prompt
    assert "return a + b" in prompt and "return a - b" in prompt

    file_text = "1  import math\n2\n3  def add(a, b):\n4      return a + b"
    follow_up = answer(tool, {"iterative_file_reader_result": file_text})
    second = await submit(deployment, follow_up, session_id=first["session_id"])
    assert second["session_id"] == first["session_id"] and second["job_id"] != first["job_id"]
    done = await settle(deployment, second["job_id"])
    assert done == {"status": "COMPLETED", "response": {"code_snippets": [{"file_path": "calc.py", "code": DIFF}]}}

    continued = deployment.chat.calls()[1]["messages"]
    assert [m["role"] for m in continued] == ["system", "user", "assistant", "tool"]
    thinking, said, asked = continued[2]["parts"]
    assert thinking["type"] == "thinking" and thinking["provider"] == "scripted", "replayable to its provider"
    assert said["text"] == "Reading the file first." and asked["type"] == "tool_call"
    (result,) = continued[3]["parts"]
    assert asked["id"] == result["tool_call_id"] == tool["tool_use_id"]
    assert result["content"][0]["text"] == file_text and result["is_error"] is False

    # The client re-sending the same follow-up finds the job it started; the model is not called again.
    again = await submit(deployment, follow_up, session_id=first["session_id"])
    assert again == second and len(deployment.chat.calls()) == 2
    # The hidden session of an inline edit is not a chat in the history list.
    listed = await deployment.request("GET", "/end_user/v1/history/sessions", token=deployment.token)
    assert first["session_id"] not in [s["id"] for s in listed.json()["data"]["sessions"]]


async def test_any_worker_continues_a_conversation_from_what_is_stored(settings_and_scripts):
    settings, chat, _ = settings_and_scripts
    chat.play({"tool_calls": [READ]}, {"tool_calls": [EDIT]})
    service = await start_service(settings)
    try:
        token = await service.issue_token()
        first = await submit(service, BODY, token=token)
        tool = tool_request(await settle(service, first["job_id"], token=token))
    finally:
        await stop_service(service)
    restarted = await start_service(settings)  # nothing of the first turn is left in memory
    try:
        second = await submit(
            restarted, answer(tool, {"iterative_file_reader_result": "x"}), token=token, session_id=first["session_id"]
        )
        done = await settle(restarted, second["job_id"], token=token)
    finally:
        await stop_service(restarted)
    assert done["response"] == {"code_snippets": [{"file_path": "calc.py", "code": DIFF}]}
    assert [m["role"] for m in chat.calls()[1]["messages"]] == ["system", "user", "assistant", "tool"]


async def test_jobs_and_sessions_belong_to_their_user(deployment):
    deployment.chat.play({"tool_calls": [READ]}, mode="repeat")
    mine = await submit(deployment, BODY)
    tool = tool_request(await settle(deployment, mine["job_id"]))
    eve = await deployment.issue_token("eve@example.com")
    foreign = await deployment.request("GET", STATUS, token=eve, params={"job_id": mine["job_id"]})
    unknown = await deployment.request("GET", STATUS, token=eve, params={"job_id": mine["job_id"] + 1000})
    garbage = await deployment.request("GET", STATUS, token=eve, params={"job_id": "abc"})
    for response in (foreign, unknown, garbage):
        assert response.status_code == 404 and response.json()["error"]["message"] == "JOB_NOT_FOUND"
    assert foreign.json() == unknown.json()

    jobs_before, sessions_before = await InlineEditJob.all().count(), await Session.all().count()
    for body in (BODY, answer(tool, {"iterative_file_reader_result": "stolen"})):
        refused = await deployment.request(
            "POST", SUBMIT, token=eve, headers={"X-Session-ID": str(mine["session_id"])}, json=body
        )
        assert refused.status_code == 404 and refused.json()["error"]["message"] == "SESSION_NOT_FOUND"
    assert (await InlineEditJob.all().count(), await Session.all().count()) == (jobs_before, sessions_before)
    assert len(deployment.chat.calls()) == 1

    # An owned session named in the header is used as it is.
    principal = (await deployment.app.ctx.tokens.authenticate(deployment.token)).principal
    chat_session = await Session.create(
        team_id=principal.team_id, user_id=principal.user_id, session_type="VSCODE_EXT_SESSION", summary="chat"
    )
    assert (await submit(deployment, BODY, session_id=chat_session.id))["session_id"] == chat_session.id


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**BODY, "query": ""},
        {**BODY, "query": "x" * 20_001},
        {**BODY, "code_selection": {"line_range": {"start_line": 9, "end_line": 2}}},
        {**BODY, "relevant_chunks": "not a list"},
        {**BODY, "tool_use_response": {"tool_name": "grep_search", "tool_use_id": "bad id!", "response": {}}},
        # A follow-up without the job's session, and one naming a tool use nobody asked for.
        {**BODY, "tool_use_response": {"tool_name": "grep_search", "tool_use_id": "toolu_1", "response": {}}},
    ],
)
async def test_bad_requests_are_422_and_change_nothing(deployment, body):
    principal = (await deployment.app.ctx.tokens.authenticate(deployment.token)).principal
    session = await Session.create(
        team_id=principal.team_id, user_id=principal.user_id, session_type="VSCODE_EXT_SESSION", summary="s"
    )
    before = (await InlineEditJob.all().count(), await Session.all().count())
    for headers in ({}, {"X-Session-ID": str(session.id)}):
        response = await deployment.request("POST", SUBMIT, token=deployment.token, headers=headers, json=body)
        assert response.status_code == 422, (headers, response.text)
        assert response.json()["error"]["message"] == "INVALID_REQUEST"
    assert (await InlineEditJob.all().count(), await Session.all().count()) == before
    assert deployment.chat.calls() == []


async def test_the_status_route_needs_a_job_id(deployment):
    response = await deployment.request("GET", STATUS, token=deployment.token)
    assert response.status_code == 422 and response.json()["error"]["message"] == "INVALID_REQUEST"


async def test_without_any_usable_model_nothing_is_created(database_url, redis_url):
    service = await start_service(unusable_models_settings(database_url, redis_url))
    try:
        token = await service.issue_token()
        response = await service.request("POST", SUBMIT, token=token, json=BODY)
        counts = (await InlineEditJob.all().count(), await Session.all().count())
    finally:
        await stop_service(service)
    assert response.status_code == 503 and response.json()["error"]["message"] == "MODEL_UNAVAILABLE"
    assert counts == (0, 0)


async def test_the_step_cap_ends_the_conversation_without_another_model_call(deployment):
    grep = {
        "name": "grep_search",
        "input": {
            "search_path": ".",
            "query": "add",
            "case_insensitive": False,
            "use_regex": False,
            "repo_path": "/work/repo",
        },
    }
    deployment.chat.play({"tool_calls": [grep]}, mode="repeat")
    job = await submit(deployment, BODY)
    for _ in range(3):  # step_cap = 3: three model calls, each asking for a search
        tool = tool_request(await settle(deployment, job["job_id"]))
        assert tool["tool_name"] == "grep_search"
        job = await submit(deployment, answer(tool, {"data": [], "search_term": "add"}), session_id=job["session_id"])
    final = tool_request(await settle(deployment, job["job_id"]))
    assert final["tool_name"] == "task_completion" and final["tool_input"]["status"] == "failed"
    assert "Stopped after 3 model steps" in final["tool_input"]["message"]
    assert len(deployment.chat.calls()) == 3


async def test_get_usage_tool_is_offered_only_with_a_language_server(deployment):
    deployment.chat.play({"tool_calls": [EDIT]}, mode="repeat")
    for lsp in (True, False):
        await settle(deployment, (await submit(deployment, {**BODY, "is_lsp_ready": lsp}))["job_id"])
    with_lsp, without = (call["tools"] for call in deployment.chat.calls())
    assert "get_usage_tool" in with_lsp and "get_usage_tool" not in without


async def test_unusable_tool_calls_are_fed_back_within_the_job(deployment):
    deployment.chat.play(
        {"tool_calls": [{"name": "write_to_file", "input": {"path": "calc.py", "diff": "x"}}]},
        {"tool_calls": [{"name": "replace_in_file", "input": {"path": "calc.py"}}]},
        {"tool_calls": [EDIT]},
    )
    done = await settle(deployment, (await submit(deployment, BODY))["job_id"])
    assert done["response"] == {"code_snippets": [{"file_path": "calc.py", "code": DIFF}]}
    third = deployment.chat.calls()[2]["messages"]
    notices = [texts(m) for m in third if m["role"] == "user"][1:]
    assert "'write_to_file' is not offered" in notices[0] and "diff" in notices[1]

    deployment.chat.play({"tool_calls": [{"name": "write_to_file", "input": {}}]}, mode="repeat")
    failed = await settle(deployment, (await submit(deployment, BODY))["job_id"])
    assert failed["status"] == "FAILED" and failed["response"] is None
    assert "could not produce a usable tool call" in failed["error"]
    assert len(deployment.chat.calls()) == 3, "the first try and chat.malformed_retries (2) more"


async def test_text_answers_become_snippets_for_the_selected_file_or_the_end_of_the_edit(deployment):
    deployment.chat.play({"text": f"Here is the change:\n\n{DIFF}\n"}, {"text": "This code already has type hints."})
    edited = await settle(deployment, (await submit(deployment, BODY))["job_id"])
    assert edited["response"] == {"code_snippets": [{"file_path": "calc.py", "code": DIFF}]}
    nothing = tool_request(await settle(deployment, (await submit(deployment, BODY))["job_id"]))
    assert nothing["tool_name"] == "task_completion"
    assert nothing["tool_input"] == {"status": "completed", "message": "This code already has type hints."}


async def test_a_provider_failure_fails_the_job_with_a_redacted_reason(deployment):
    leaked = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"
    deployment.chat.play({"error": {"kind": "provider", "status": 400, "message": f"invalid x-api-key {leaked}"}})
    failed = await settle(deployment, (await submit(deployment, BODY))["job_id"])
    assert failed["status"] == "FAILED" and "The model provider failed" in failed["error"]
    row = await InlineEditJob.all().order_by("-id").first()
    assert leaked not in failed["error"] and leaked not in (row.failure or "") and "sk-***" in row.failure


async def test_a_follow_up_after_a_failed_one_is_retried(deployment):
    deployment.chat.play({"tool_calls": [READ]}, {"error": {"kind": "provider", "status": 500}}, {"tool_calls": [EDIT]})
    first = await submit(deployment, BODY)
    tool = tool_request(await settle(deployment, first["job_id"]))
    follow_up = answer(tool, {"iterative_file_reader_result": "def add(a, b): ..."})
    failed = await submit(deployment, follow_up, session_id=first["session_id"])
    assert (await settle(deployment, failed["job_id"]))["status"] == "FAILED"
    retried = await submit(deployment, follow_up, session_id=first["session_id"])
    assert retried["job_id"] != failed["job_id"]
    assert (await settle(deployment, retried["job_id"]))["response"]["code_snippets"][0]["code"] == DIFF


async def test_a_job_settles_by_its_deadline_even_if_the_model_never_answers(database_url, redis_url, tmp_path):
    settings, chat, _ = scripted_settings(database_url, redis_url, tmp_path, **{"inline_edit.job_deadline_s": 1.5})
    chat.play({"text": "too late", "delay_ms": 20_000})
    service = await start_service(settings)
    try:
        token = await service.issue_token()
        started = time.monotonic()
        job = await submit(service, BODY, token=token)
        pending = await service.request("GET", STATUS, token=token, params={"job_id": job["job_id"]})
        failed = await settle(service, job["job_id"], token=token)
        elapsed = time.monotonic() - started
    finally:
        await stop_service(service)
    assert pending.json()["data"] == {"status": "PENDING", "response": None}
    assert failed["status"] == "FAILED" and "did not finish within 1.5 s" in failed["error"]
    assert elapsed < 3.5


async def test_a_job_whose_worker_died_reads_failed_after_its_deadline(deployment):
    principal = (await deployment.app.ctx.tokens.authenticate(deployment.token)).principal
    session = await Session.create(
        team_id=principal.team_id, user_id=principal.user_id, session_type="INLINE_EDIT", summary=""
    )
    orphan, alive = [
        await InlineEditJob.create(
            team_id=principal.team_id,
            user_id=principal.user_id,
            session_id=session.id,
            model="scripted",
            query="q",
            deadline_at=now() + timedelta(seconds=offset),
        )
        for offset in (-1, 60)
    ]
    assert await settle(deployment, alive.id, within_s=0) == {"status": "PENDING", "response": None}
    dead = await settle(deployment, orphan.id, within_s=0)
    assert dead["status"] == "FAILED" and "did not finish in time" in dead["error"]
    assert (await InlineEditJob.get(id=orphan.id)).status == "FAILED", "recorded, not only reported"


async def test_stopping_the_server_fails_its_running_jobs(database_url, redis_url, tmp_path):
    settings, chat, _ = scripted_settings(database_url, redis_url, tmp_path)
    chat.play({"text": "slow", "delay_ms": 20_000})
    service = await start_service(settings)
    try:
        token = await service.issue_token()
        job = await submit(service, BODY, token=token)
        await asyncio.sleep(0.3)
    finally:
        await stop_service(service)
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow("SELECT status, failure FROM inline_edit_jobs WHERE id = $1", job["job_id"])
    finally:
        await connection.close()
    assert row["status"] == "FAILED" and "server stopped" in row["failure"]
    assert any(json.loads(line)["event"] == "cancelled" for line in chat.record.read_text().splitlines())


async def test_another_user_cannot_reach_jobs_in_a_foreign_team(deployment):
    team = await get_or_create_team("elsewhere")
    stranger = await User.create(email="mallory@example.com", name="Mallory")
    session = await Session.create(team_id=team.id, user_id=stranger.id, session_type="INLINE_EDIT", summary="")
    job = await InlineEditJob.create(
        team_id=team.id, user_id=stranger.id, session_id=session.id, model="m", query="q", deadline_at=now()
    )
    response = await deployment.request("GET", STATUS, token=deployment.token, params={"job_id": job.id})
    assert response.status_code == 404 and response.json()["error"]["message"] == "JOB_NOT_FOUND"
    assert (await InlineEditJob.get(id=job.id)).status == "PENDING", "a foreign job is not even settled"
