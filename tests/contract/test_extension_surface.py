"""The whole REST surface the extension and its local binary call (docs/protocol.md §2-§4), against a real
`adjutant serve`: the start-up sequence a signed-in extension runs, then every route once with a well-formed
request. A route the client calls that this server does not build answers 404, which the real extension turns
into an unhandled rejection: none may.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.contract.test_basic_scenarios import session_of

ENVELOPE_KEYS = {"is_success", "data"}


async def test_a_signed_in_extension_starts_without_a_failed_request(deployment):
    """The order the extension runs on activation: bootstrap, verify, configs, settings, panels, history."""
    client = deployment.client("ada")
    bootstrap = {"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"}
    sequence: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/end_user/v1/configs/get-essential-configs", {"params": bootstrap}),
        ("POST", "/end_user/v1/auth/verify-auth-token", {"json": {}}),
        ("GET", "/end_user/v1/configs/get-configs", {"params": bootstrap}),
        ("GET", "/end_user/v1/extension_settings/get_extension_settings", {}),
        ("GET", "/end_user/v1/ui_data/profile_ui", {"params": {"session_type": "CODE_GENERATION_V2"}}),
        ("GET", "/end_user/v1/history/sessions", {"params": {"limit": 20, "offset": 0}}),
        ("GET", "/end_user/v1/history/sessions", {"params": {"sessions_list_type": "PINNED"}}),
        ("GET", "/end_user/v1/urls/saved_url/list", {"params": {"limit": 60, "offset": 0}}),
    ]
    for method, path, kwargs in sequence:
        response = await client.rest(method, path, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        body = response.json()
        assert ENVELOPE_KEYS <= set(body) and body["is_success"] is True, path

    settings = (await client.rest("GET", "/end_user/v1/extension_settings/get_extension_settings")).json()["data"]
    assert settings == {"terminal_settings": {"enable_yolo_mode": False, "command_deny_list": ["rm"]}}

    # Telemetry goes to the URL the configuration advertises, without bearer or client headers.
    configs = (await client.rest("GET", "/end_user/v1/configs/get-configs", params=bootstrap)).json()["data"]
    telemetry = configs["RUDDER"]["DATA_PLANE_URL"]
    async with httpx.AsyncClient(timeout=10) as http:
        for url in (telemetry, telemetry + "/v1/batch"):
            assert (await http.post(url, json={"batch": [{"event": "activate"}]})).status_code == 200, url


async def test_every_route_the_clients_call_is_built(deployment):
    """One well-formed request per route of docs/protocol.md §4.1, §4.2 and §4.4, each answered by a handler."""
    deployment.script({"text": "An answer."}, mode="repeat")
    client = deployment.client("ada")
    socket = await client.socket()
    session_id = session_of(await socket.ask({"query": "start a session"}))
    await socket.close()
    saved = await client.rest(
        "POST",
        "/end_user/v1/urls/save_url",
        json={"name": "Docs", "url": "https://docs.example.com/", "last_indexed": None},
    )
    assert saved.status_code == 200, saved.text
    url_id = saved.json()["data"]["id"]
    inline_body = {
        "query": "rename x to y",
        "code_selection": {
            "selected_text": "x = 1",
            "file_path": "a.py",
            "line_range": {"start_line": 1, "end_line": 1},
        },
        "repo_path": "/tmp/repo",
        "relevant_chunks": [],
        "llm_model": "scripted",
        "search_web": False,
        "is_lsp_ready": False,
        "is_indexing_done": True,
    }
    calls: list[tuple[str, str, int | None, dict[str, Any]]] = [
        ("POST", "/end_user/v1/websearch", None, {"json": {"descriptive_query": "sanic websocket ping interval"}}),
        ("POST", "/end_user/v2/code-gen/generate-enhanced-user-query", None, {"json": {"user_query": "fix it"}}),
        (
            "POST",
            "/end_user/v2/code-gen/terminal-command-edit",
            session_id,
            {
                "json": {
                    "query": "also list hidden files",
                    "old_terminal_command": "ls",
                    "os_name": "linux",
                    "shell": "bash",
                }
            },
        ),
        (
            "POST",
            "/end_user/v1/extension_settings/update_extension_settings",
            None,
            {"json": {"terminal_settings": {"enable_yolo_mode": False, "command_deny_list": ["rm", "dd"]}}},
        ),
        ("POST", "/end_user/v1/urls/summarize_url", None, {"json": {"content": "Sanic is an async web framework."}}),
        ("PUT", "/end_user/v1/urls/update_url", None, {"json": {"id": url_id, "name": "Docs (renamed)"}}),
        ("GET", "/end_user/v1/urls/delete_url", None, {"params": {"url_id": url_id}}),
        (
            "POST",
            "/end_user/v1/code-gen/create-embedding",
            None,
            {"json": {"texts": ["def f(): pass"], "store_embeddings": False}},
        ),
        (
            "POST",
            "/end_user/v1/chunks/rerank-via-llm",
            None,
            {"json": {"query": "f", "relevant_chunks": []}},
        ),
        ("GET", "/end_user/v1/history/chats", session_id, {}),
        ("PUT", "/end_user/v1/history/pin-unpin-session", session_id, {"params": {"sessions_list_type": "UNPINNED"}}),
        ("POST", "/end_user/v2/code-gen/cancel", session_id, {"json": {}}),
        (
            "POST",
            "/end_user/v1/file-upload/get-presigned-post-url",
            None,
            {"json": {"file_name": "p.json", "file_size": 10, "file_type": "application/json", "folder": "payload"}},
        ),
    ]
    for method, path, session, kwargs in calls:
        response = await client.rest(method, path, session, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert response.json()["is_success"] is True, path

    job = await client.rest("POST", "/end_user/v2/code-gen/generate-inline-edit", json=inline_body)
    assert job.status_code == 200, job.text
    job_id = job.json()["data"]["job_id"]
    for _ in range(100):
        status = await client.rest("GET", "/end_user/v1/code-gen/get-job-status", params={"job_id": job_id})
        assert status.status_code == 200, status.text
        if status.json()["data"]["status"] != "PENDING":
            break
        await asyncio.sleep(0.1)
    assert status.json()["data"]["status"] == "COMPLETED", status.text
