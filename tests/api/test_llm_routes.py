"""Direct model access over HTTP: models usable here, streamed completions as SSE, typed HTTP errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_settings, start_service, stop_service


def scripted_settings(database_url: str, redis_url: str, script: Path, record: Path | None = None):
    route = {"provider": "scripted", "script_path": str(script), "record_path": str(record) if record else ""}
    models = [
        {
            "id": 1,
            "name": "scripted",
            "display_name": "Scripted",
            "input_token_limit": 1000,
            "output_token_limit": 100,
            "routes": [route],
        }
    ]
    return make_settings(
        database_url,
        redis_url,
        **{
            "llm.models": models,
            "llm.code_gen_models": ["scripted"],
            "llm.default_model": "scripted",
            "llm.router.max_retries": 0,
            "llm.router.max_retry_after_s": 1.0,
        },
    )


@pytest.fixture
async def scripted_service(database_url, redis_url, tmp_path):
    script = tmp_path / "script.json"
    service = await start_service(scripted_settings(database_url, redis_url, script))
    service.script = script
    yield service
    await stop_service(service)


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_models_lists_what_is_usable(scripted_service):
    token = await scripted_service.issue_token()
    data = (await scripted_service.request("GET", "/v1/llm/models", client_headers=False, token=token)).json()["data"]
    assert data["default"] == "scripted"
    assert [m["name"] for m in data["models"]] == ["scripted"] and data["models"][0]["providers"] == ["scripted"]


async def test_stream_sends_every_event_as_sse_then_done(scripted_service):
    scripted_service.script.write_text(json.dumps({"responses": [{"text": "Hello from the script", "chunk_chars": 5}]}))
    token = await scripted_service.issue_token()
    response = await scripted_service.request(
        "POST",
        "/v1/llm/stream",
        client_headers=False,
        token=token,
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "route" and kinds[-3:] == ["usage", "finish", "done"]
    assert "".join(d["text"] for k, d in events if k == "text_delta") == "Hello from the script"


async def test_stream_needs_a_token(scripted_service):
    response = await scripted_service.request(
        "POST", "/v1/llm/stream", client_headers=False, json={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 400 and response.json()["error"]["message"] == "NOT_VERIFIED"


@pytest.mark.parametrize(
    ("script", "status", "code"),
    [
        ({"error": {"kind": "throttled", "retry_after": 7}}, 429, "LLM_THROTTLED"),
        ({"text": "x", "usage": {"input_tokens": 5000}}, 422, "INPUT_TOKEN_LIMIT_EXCEEDED"),
        ({"error": {"kind": "provider", "status": 400, "message": "bad"}}, 502, "PROVIDER_ERROR"),
    ],
)
async def test_failures_before_output_are_typed_http_errors(scripted_service, script, status, code):
    scripted_service.script.write_text(json.dumps({"mode": "repeat", "responses": [script]}))
    token = await scripted_service.issue_token()
    response = await scripted_service.request(
        "POST",
        "/v1/llm/stream",
        client_headers=False,
        token=token,
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    body = response.json()
    assert response.status_code == status and body["error"]["message"] == code
    assert body["meta"]["model"] == "scripted"
    if code == "LLM_THROTTLED":
        assert response.headers["retry-after"] == "7"
    if code == "INPUT_TOKEN_LIMIT_EXCEEDED":
        assert body["meta"]["current_tokens"] == 5000 and body["meta"]["max_tokens"] == 1000


async def test_a_failure_mid_stream_is_an_error_event_not_a_finish(scripted_service):
    scripted_service.script.write_text(
        json.dumps(
            {"responses": [{"text": "abcdefghij", "chunk_chars": 2, "error": {"kind": "provider", "after_chunks": 2}}]}
        )
    )
    token = await scripted_service.issue_token()
    response = await scripted_service.request(
        "POST",
        "/v1/llm/stream",
        client_headers=False,
        token=token,
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    kinds = [kind for kind, _ in sse_events(response.text)]
    assert kinds == ["route", "text_delta", "text_delta", "error", "done"]


async def test_bad_bodies_are_422(scripted_service):
    token = await scripted_service.issue_token()
    response = await scripted_service.request(
        "POST", "/v1/llm/stream", client_headers=False, token=token, json={"messages": []}
    )
    assert response.status_code == 422


async def test_a_client_that_hangs_up_stops_the_model_call(database_url, redis_url, tmp_path, caplog):
    import asyncio

    script, record = tmp_path / "script.json", tmp_path / "record.jsonl"
    script.write_text(json.dumps({"responses": [{"text": "z" * 500, "chunk_chars": 1, "delay_ms": 10}]}))
    service = await start_service(scripted_settings(database_url, redis_url, script, record))
    try:
        token = await service.issue_token()
        async with service.http.stream(
            "POST",
            "/v1/llm/stream",
            headers={"Authorization": f"Bearer {token}"},
            json={"messages": [{"role": "user", "content": "hi"}]},
        ) as response:
            async for chunk in response.aiter_text():
                if "text_delta" in chunk:
                    break  # hang up mid-answer
        for _ in range(100):
            if record.exists() and '"cancelled"' in record.read_text():
                break
            await asyncio.sleep(0.02)
        events = [json.loads(line)["event"] for line in record.read_text().splitlines()]
        assert events == ["request", "cancelled"]
        assert not [r for r in caplog.records if r.levelname == "ERROR"], "a hang-up is not a server error"
    finally:
        await stop_service(service)


async def test_a_burst_of_events_arrives_whole_and_in_order(scripted_service):
    text = "".join(chr(0x41 + i % 26) + ('é"\n' if i % 7 == 0 else "") for i in range(3000))
    scripted_service.script.write_text(
        json.dumps({"responses": [{"thinking": "ré\\flé", "text": text, "chunk_chars": 1}]})
    )
    token = await scripted_service.issue_token()
    response = await scripted_service.request(
        "POST",
        "/v1/llm/stream",
        client_headers=False,
        token=token,
        json={"messages": [{"role": "user", "content": "x"}]},
    )
    events = sse_events(response.text)
    assert "".join(d["text"] for k, d in events if k == "text_delta") == text
    assert "".join(d["text"] for k, d in events if k == "thinking_delta") == "ré\\flé"
    assert [k for k, _ in events][-3:] == ["usage", "finish", "done"]
    assert all(d["kind"] == k for k, d in events if k != "done")


@pytest.mark.parametrize("text", ["plain", 'quo"te \\ back', "line\nbreak\ttab", "é ✓ \U0001f600", "\x00\x1f", ""])
def test_text_frames_are_the_bytes_the_general_encoder_writes(text):
    from app.api.routes.llm import _frame
    from app.llm.types import TextDelta, ThinkingDelta

    for event in (TextDelta(text=text), ThinkingDelta(text=text)):
        assert _frame(event) == f"event: {event.kind}\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"
