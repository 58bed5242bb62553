"""docs/protocol.md §12 scenario C15: large payloads, uploads and R4, robustness, and the advertised configuration."""

from __future__ import annotations

import json

import httpx

from tests.contract.client import CLIENT
from tests.contract.test_basic_scenarios import FINAL, session_of


async def upload(client, content: bytes, folder: str = "payload", file_type: str = "application/json") -> int:
    grant = await client.rest(
        "POST",
        "/end_user/v1/file-upload/get-presigned-post-url",
        json={"file_name": "payload.json", "file_size": len(content), "file_type": file_type, "folder": folder},
    )
    assert grant.status_code == 200, grant.text
    data = grant.json()["data"]
    async with httpx.AsyncClient() as http:  # no bearer, no client headers: the signed fields authorise it
        posted = await http.post(
            data["upload_url"]["url"],
            data=data["upload_url"]["fields"],
            files={"file": ("payload.json", content, file_type)},
        )
    assert posted.status_code in (200, 204), posted.text
    return data["attachment_id"]


async def test_c15_large_inline_payloads_and_payload_attachments(deployment):
    deployment.script({"text": "got it"}, mode="repeat")
    client = deployment.client()
    socket = await client.socket()
    big = {
        "query": "summarise this",
        "deputy_dev_rules": "r" * 100,
        "focus_items": [{"type": "file", "path": "/r/big.txt", "chunks": [{"content": "x" * (3 * 1024 * 1024)}]}],
    }
    inline = await socket.ask(big)
    assert inline.compact() == FINAL
    # R4: the same request as an uploaded attachment.
    attachment_id = await upload(client, json.dumps({**big, "session_id": session_of(inline)}).encode())
    r4 = await socket.ask({"type": "PAYLOAD_ATTACHMENT", "attachment_id": attachment_id})
    assert r4.compact() == FINAL and session_of(r4) == session_of(inline)
    reused = await socket.ask({"type": "PAYLOAD_ATTACHMENT", "attachment_id": attachment_id})
    assert reused.compact() == ["SS", "ERR(ATTACHMENT_NOT_FOUND)"]
    foreign_id = await upload(deployment.client("eve"), json.dumps({"query": "eve's"}).encode())
    foreign = await socket.ask({"type": "PAYLOAD_ATTACHMENT", "attachment_id": foreign_id})
    assert foreign.compact() == ["SS", "ERR(ATTACHMENT_NOT_FOUND)"]
    nested_id = await upload(client, json.dumps({"resume_query_id": "0" * 32}).encode())
    nested = await socket.ask({"type": "PAYLOAD_ATTACHMENT", "attachment_id": nested_id})
    assert nested.compact() == ["SS", "ERR(INVALID_REQUEST)"]
    # Above the application limit (4 MiB in this deployment), below the transport limit.
    oversized = await socket.ask({"query": "y" * (5 * 1024 * 1024)})
    assert oversized.compact() == ["SS", "ERR(PAYLOAD_TOO_LARGE)"]
    assert (await socket.ask({"query": "still usable", "session_id": session_of(inline)})).compact() == FINAL
    await socket.close()


async def test_c15_uploads_are_signed_single_use_and_owned(deployment):
    client = deployment.client()
    grant = (
        await client.rest(
            "POST",
            "/end_user/v1/file-upload/get-presigned-post-url",
            json={"file_name": "a.png", "file_size": 10, "file_type": "image/png", "folder": "image"},
        )
    ).json()["data"]
    fields = grant["upload_url"]["fields"]
    async with httpx.AsyncClient() as http:
        forged = await http.post(
            grant["upload_url"]["url"],
            data={**fields, "max_size": "999999"},
            files={"file": ("a.png", b"0123456789", "image/png")},
        )
        assert forged.status_code == 400
        ok = await http.post(
            grant["upload_url"]["url"], data=fields, files={"file": ("a.png", b"0123456789", "image/png")}
        )
        assert ok.status_code == 204
        again = await http.post(grant["upload_url"]["url"], data=fields, files={"file": ("a.png", b"x", "image/png")})
        assert again.status_code == 404
        downloaded = await http.get(grant["download_url"])
        assert downloaded.status_code == 200 and downloaded.content == b"0123456789"
        tampered = await http.get(grant["download_url"].replace("signature=", "signature=0"))
        assert tampered.status_code == 404
    for body in (
        {"file_name": "a.exe", "file_size": 10, "file_type": "application/x-msdownload", "folder": "image"},
        {"file_name": "p.json", "file_size": 10**9, "file_type": "application/json", "folder": "payload"},
        {"file_name": "p.json", "file_size": 0, "file_type": "application/json", "folder": "payload"},
    ):
        assert (
            await client.rest("POST", "/end_user/v1/file-upload/get-presigned-post-url", json=body)
        ).status_code == 422
    eve = deployment.client("eve")
    attachment = {"attachment_id": grant["attachment_id"]}
    assert (
        await eve.rest("POST", "/end_user/v1/file-upload/get-presigned-get-url", json=attachment)
    ).status_code == 404
    assert (await eve.rest("POST", "/end_user/v1/file-upload/delete-file", json=attachment)).status_code == 404
    assert (
        await client.rest("POST", "/end_user/v1/file-upload/get-presigned-get-url", json=attachment)
    ).status_code == 200
    # An image attached to a query is shown in history with a fresh signed URL.
    deployment.script({"text": "nice picture"})
    socket = await client.socket()
    turn = await socket.ask({"query": "look", "attachments": [attachment]})
    assert turn.compact() == FINAL
    user = (await client.chats(session_of(turn)))[0]["message_data"]
    assert (
        user["attachments"][0]["attachment_id"] == grant["attachment_id"]
        and "signature=" in user["attachments"][0]["get_url"]
    )
    foreign = await deployment.client("eve").socket()
    assert (await foreign.ask({"query": "steal", "attachments": [attachment]})).compact() == [
        "SS",
        "ERR(ATTACHMENT_NOT_FOUND)",
    ]
    assert (await client.rest("POST", "/end_user/v1/file-upload/delete-file", json=attachment)).status_code == 200
    assert (
        await client.rest("POST", "/end_user/v1/file-upload/get-presigned-get-url", json=attachment)
    ).status_code == 404
    await socket.close()
    await foreign.close()


async def test_c15_the_advertised_configuration_is_complete_and_live(deployment):
    client = deployment.client()
    async with httpx.AsyncClient(base_url=deployment.url(), headers=CLIENT) as http:
        essential = (
            await http.get(
                "/end_user/v1/configs/get-essential-configs",
                params={"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"},
            )
        ).json()["data"]
    socket_url = essential["DD_HOST_WS_NON_GATEWAY"] + essential["QUERY_SOLVER_ENDPOINT_NON_GATEWAY"]
    assert socket_url == deployment.url().replace("http://", "ws://") + "/end_user/v2/code-gen/generate-code-ws"
    assert [m["name"] for m in essential["LLM_MODELS"]] == ["scripted", "scripted-big"]
    deployment.script({"text": "connected"})
    socket = await client.socket()
    assert (await socket.ask({"query": "via the advertised URL"})).compact() == FINAL
    await socket.close()
    for consumer in ("VSCODE_EXT", "BINARY"):
        response = await client.rest("GET", "/end_user/v1/configs/get-configs", params={"consumer": consumer})
        assert response.status_code == 200 and response.json()["is_success"]
