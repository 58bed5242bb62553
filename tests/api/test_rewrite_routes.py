"""The helper-model rewrites: an enhanced user query and an edited terminal command. Each answers null,
never an error, when no model can help; bad input is 422; named sessions must be the caller's."""

from __future__ import annotations

import time

import pytest

from app.db.models import Session, User
from app.db.repositories.identity import get_or_create_team
from tests.api.scripted_models import scripted_settings, unusable_models_settings
from tests.conftest import start_service, stop_service

ENHANCE = "/end_user/v2/code-gen/generate-enhanced-user-query"
COMMAND = "/end_user/v2/code-gen/terminal-command-edit"
COMMAND_BODY = {
    "query": "only the last 5",
    "old_terminal_command": "git log --oneline",
    "os_name": "linux",
    "shell": "zsh",
}


@pytest.fixture
async def deployment(database_url, redis_url, tmp_path):
    settings, _, helper = scripted_settings(database_url, redis_url, tmp_path, **{"rewrites.timeout_s": 1.0})
    service = await start_service(settings)
    service.helper = helper
    service.token = await service.issue_token("ada@example.com")
    yield service
    await stop_service(service)


async def own_session(service, token: str) -> Session:
    principal = (await service.app.ctx.tokens.authenticate(token)).principal
    return await Session.create(
        team_id=principal.team_id, user_id=principal.user_id, session_type="VSCODE_EXT_SESSION", summary="s"
    )


async def foreign_session() -> Session:
    team = await get_or_create_team("elsewhere")
    stranger = await User.create(email="eve@example.com", name="Eve")
    return await Session.create(team_id=team.id, user_id=stranger.id, session_type="VSCODE_EXT_SESSION", summary="")


def data_of(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_the_helper_model_rewrites_the_query(deployment):
    deployment.helper.play({"text": 'Enhanced query: "Add exponential backoff with jitter to fetch() in net.py"'})
    data = data_of(
        await deployment.request("POST", ENHANCE, token=deployment.token, json={"user_query": "add retries to fetch"})
    )
    assert data == {"enhanced_query": "Add exponential backoff with jitter to fetch() in net.py"}
    (call,) = deployment.helper.calls()
    assert call["purpose"] == "enhance_query" and "add retries to fetch" in call["messages"][0]["parts"][0]["text"]


@pytest.mark.parametrize(
    "script",
    [
        {"error": {"kind": "provider", "status": 500}},  # the provider fails
        {"text": "   "},  # nothing usable comes back
        {"text": "too late", "delay_ms": 3000},  # past rewrites.timeout_s
    ],
)
async def test_any_helper_failure_is_a_null_answer_not_an_error(deployment, script):
    deployment.helper.play(script, mode="repeat")
    started = time.monotonic()
    enhanced = await deployment.request("POST", ENHANCE, token=deployment.token, json={"user_query": "q"})
    session = await own_session(deployment, deployment.token)
    command = await deployment.request(
        "POST", COMMAND, token=deployment.token, headers={"X-Session-ID": str(session.id)}, json=COMMAND_BODY
    )
    assert data_of(enhanced) == {"enhanced_query": None}
    assert data_of(command) == {"terminal_command": None}
    assert time.monotonic() - started < 4, "each call is bounded by rewrites.timeout_s"


async def test_without_any_usable_model_both_rewrites_are_null(database_url, redis_url):
    service = await start_service(unusable_models_settings(database_url, redis_url))
    try:
        token = await service.issue_token()
        session = await own_session(service, token)
        enhanced = await service.request("POST", ENHANCE, token=token, json={"user_query": "make it faster"})
        command = await service.request(
            "POST", COMMAND, token=token, headers={"X-Session-ID": str(session.id)}, json=COMMAND_BODY
        )
    finally:
        await stop_service(service)
    assert data_of(enhanced) == {"enhanced_query": None}
    assert data_of(command) == {"terminal_command": None}


async def test_the_edited_command_comes_back_without_fences_or_prose(deployment):
    session = await own_session(deployment, deployment.token)
    deployment.helper.play(
        {"text": "Sure! Here is the edited command:\n```zsh\ngit log --oneline -n 5\n```\nThis shows the last five."}
    )
    data = data_of(
        await deployment.request(
            "POST", COMMAND, token=deployment.token, headers={"x-session-id": str(session.id)}, json=COMMAND_BODY
        )
    )
    assert data == {"terminal_command": "git log --oneline -n 5"}
    (call,) = deployment.helper.calls()
    prompt = call["messages"][0]["parts"][0]["text"]
    assert call["purpose"] == "terminal_command"
    assert "git log --oneline" in prompt and "only the last 5" in prompt and "linux" in prompt and "zsh" in prompt


async def test_the_terminal_command_edit_needs_an_owned_session(deployment):
    deployment.helper.play({"text": "```\nls\n```"}, mode="repeat")
    foreign = await foreign_session()
    missing = await deployment.request("POST", COMMAND, token=deployment.token, json=COMMAND_BODY)
    refused = await deployment.request(
        "POST", COMMAND, token=deployment.token, headers={"X-Session-ID": str(foreign.id)}, json=COMMAND_BODY
    )
    unknown = await deployment.request(
        "POST", COMMAND, token=deployment.token, headers={"X-Session-ID": str(foreign.id + 1000)}, json=COMMAND_BODY
    )
    for response in (missing, refused, unknown):
        assert response.status_code == 404 and response.json()["error"]["message"] == "SESSION_NOT_FOUND"
    assert refused.json() == unknown.json()
    # The optional session of the query rewrite is checked just the same when it is named.
    enhanced = await deployment.request(
        "POST", ENHANCE, token=deployment.token, headers={"X-Session-ID": str(foreign.id)}, json={"user_query": "q"}
    )
    assert enhanced.status_code == 404 and enhanced.json()["error"]["message"] == "SESSION_NOT_FOUND"
    assert deployment.helper.calls() == [], "no model call for a refused request"


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (ENHANCE, {}),
        (ENHANCE, {"user_query": ""}),
        (ENHANCE, {"user_query": "x" * 20_001}),
        (ENHANCE, {"user_query": 42}),
        (COMMAND, {"query": "q"}),
        (COMMAND, {**COMMAND_BODY, "old_terminal_command": ""}),
        (COMMAND, {**COMMAND_BODY, "shell": "z" * 65}),
    ],
)
async def test_bad_bodies_are_422_and_call_no_model(deployment, route, body):
    session = await own_session(deployment, deployment.token)
    response = await deployment.request(
        "POST", route, token=deployment.token, headers={"X-Session-ID": str(session.id)}, json=body
    )
    assert response.status_code == 422 and response.json()["error"]["message"] == "INVALID_REQUEST"
    assert deployment.helper.calls() == []
