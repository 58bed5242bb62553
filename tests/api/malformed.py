"""Shared pieces of the malformed-input suites: a service with seeded rows, a fingerprint of every table to
prove an answer changed nothing, a raw HTTP/1.1 sender for bytes httpx refuses to send, and a deterministic
generator of nasty strings and integers."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from app.db.models import UserQuery
from app.db.repositories import chat as chat_repo
from app.runtime.settings import Settings
from tests.conftest import CLIENT_HEADERS, RunningService, make_settings, start_service, stop_service

SOCKET = "/end_user/v2/code-gen/generate-code-ws"
PRESIGN = "/end_user/v1/file-upload/get-presigned-post-url"


@dataclass
class World:
    """A running service and one user's rows: a session with a user query, an attachment and a saved URL."""

    service: RunningService
    database_url: str
    token: str
    session_id: int
    query_id: int
    attachment_id: int
    url_id: int
    database: DatabaseState

    async def state(self) -> dict[str, str]:
        return await self.database.read()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.service.request(method, path, token=self.token, **kwargs)

    @property
    def session_header(self) -> dict[str, str]:
        return {"X-Session-ID": str(self.session_id)}


async def start_world(
    database_url: str, redis_url: str, *, settings: Settings | None = None, openapi: bool = False
) -> World:
    # By default no usable model: nothing below may wait on one, and a route that needs one answers a typed 503.
    if settings is None:
        settings = make_settings(database_url, redis_url, **{"providers.local_enabled": False})
    service = await start_service(settings, openapi=openapi)
    token = await service.issue_token()
    principal = (await service.app.ctx.tokens.authenticate(token)).principal
    session = await chat_repo.create_session(
        team_id=principal.team_id, user_id=principal.user_id, session_type="VSCODE_EXT_SESSION", summary="seed"
    )
    query = await UserQuery.create(
        team_id=principal.team_id,
        user_id=principal.user_id,
        session_id=session.id,
        text="seed",
        model="seed",
        fingerprint="0" * 64,
    )
    grant = await service.request(
        "POST",
        PRESIGN,
        token=token,
        json={"file_name": "seed.png", "file_size": 10, "file_type": "image/png", "folder": "image"},
    )
    assert grant.status_code == 200, grant.text
    saved = await service.request(
        "POST", "/end_user/v1/urls/save_url", token=token, json={"name": "seed", "url": "https://example.com/"}
    )
    assert saved.status_code == 200, saved.text
    return World(
        service,
        database_url,
        token,
        session.id,
        query.id,
        grant.json()["data"]["attachment_id"],
        saved.json()["data"]["id"],
        await DatabaseState.open(database_url),
    )


async def stop_world(world: World) -> None:
    await world.database.close()
    await stop_service(world.service)


class DatabaseState:
    """Every table's rows, hashed: equal before and after = the request wrote nothing (a token's last use,
    which any authenticated request may refresh, aside). One connection and one statement per reading."""

    def __init__(self, connection: asyncpg.Connection, statement: str) -> None:
        self.connection = connection
        self.statement = statement

    @classmethod
    async def open(cls, database_url: str) -> DatabaseState:
        connection = await asyncpg.connect(database_url)
        tables = sorted(
            row["tablename"]
            for row in await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        statement = " UNION ALL ".join(
            f"SELECT '{table}' AS name, count(*)::text || ':' || md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) "
            f'AS digest FROM (SELECT (to_jsonb(t) - \'last_used_at\')::text AS r FROM "{table}" t) AS "{table}_rows"'
            for table in tables
        )
        return cls(connection, statement)

    async def read(self) -> dict[str, str]:
        return {row["name"]: row["digest"] for row in await self.connection.fetch(self.statement)}

    async def close(self) -> None:
        await self.connection.close()


def assert_typed_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["is_success"] is False and body["status_code"] == status, body
    assert body["error"]["message"] == code, body


def json_bytes(value: Any) -> bytes:
    """JSON as a client would send it; lone surrogates travel as \\ud800 escapes, as JavaScript writes them."""
    return json.dumps(value, ensure_ascii=True).encode()


async def raw_http(
    base_url: str, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    """One HTTP/1.1 request written byte for byte (httpx refuses NUL in headers); status and JSON body."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: test", b"Connection: close"]
        head += [name + b": " + value for name, value in headers]
        head.append(f"Content-Length: {len(body)}".encode())
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload) if payload else {}


def client_headers(token: str, **extra: str) -> list[tuple[bytes, bytes]]:
    sent = {**CLIENT_HEADERS, "Authorization": f"Bearer {token}", **extra}
    return [(name.encode(), value.encode()) for name, value in sent.items()]


# --- nasty values -----------------------------------------------------------------------------------------

NASTY_TEXT = [
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "x\udc80y",
    "\ud83d",  # the first half of an emoji, cut off
    "²",
    "١٢٣",
    "𝟙𝟚",
    "\ufeff",
    "\u202e\u2066",
    "\r\nX-Injected: 1",
    '"; DROP TABLE sessions; --',
    "\\u0000",
    "%00",
    "😀" * 50,
    "\u0085\u2028\u2029",
    "x" * 70_000,
    "",
    " ",
]
NASTY_INTS: list[Any] = [
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**53,
    2**63 - 1,
    2**63,
    2**64,
    10**30,
    -1,
    0,
    1.5,
    1e308,
    True,
    "²",
    "9223372036854775808",
    None,
    [],
    {},
]


def nasty_values(seed: int, count: int) -> list[Any]:
    """`count` values drawn deterministically from the nasty lists, plus a few built from them."""
    rng = random.Random(seed)
    pool: list[Any] = NASTY_TEXT + NASTY_INTS
    combined = ["".join(pair) for pair in itertools.combinations(NASTY_TEXT[:10], 2)]
    values = pool + [rng.choice(combined) for _ in range(5)]
    rng.shuffle(values)
    return values[:count]
