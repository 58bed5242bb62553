"""docs/protocol.md §4.2: the local binary's embedding and rerank routes, their limits and ownership checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.db.models import Session, User
from app.db.repositories.identity import get_or_create_team
from tests.api.test_llm_routes import scripted_settings
from tests.conftest import make_settings, start_service, stop_service

EMBED = "/end_user/v1/code-gen/create-embedding"
RERANK = "/end_user/v1/chunks/rerank-via-llm"


@pytest.fixture
async def limited_service(database_url, redis_url):
    settings = make_settings(
        database_url,
        redis_url,
        **{
            "search.embedding_route_max_texts": 4,
            "search.embedding_route_max_bytes": 4096,
            "search.embedding_route_per_minute": 5,
        },
    )
    running = await start_service(settings)
    yield running
    await stop_service(running)


async def test_embeddings_match_the_texts_in_count_order_and_dimension(limited_service):
    token = await limited_service.issue_token()
    texts = ["def add(a, b): return a + b", "open a socket", "x" * 3000]
    response = await limited_service.request(
        "POST", EMBED, token=token, json={"texts": texts, "store_embeddings": True}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    vectors = data["embeddings"]
    assert len(vectors) == 3 and {len(v) for v in vectors} == {384} and data["tokens_used"] > 10
    single = (await limited_service.request("POST", EMBED, token=token, json={"texts": [texts[1]]})).json()["data"]
    assert float(np.dot(single["embeddings"][0], vectors[1])) > 0.9999


async def test_embedding_limits_are_413_and_the_rate_limit_is_429(limited_service):
    token = await limited_service.issue_token()
    unauthenticated = await limited_service.request("POST", EMBED, json={"texts": ["a"]})
    assert unauthenticated.status_code == 400 and unauthenticated.json()["error"]["message"] == "NOT_VERIFIED"
    too_many = await limited_service.request("POST", EMBED, token=token, json={"texts": ["a"] * 5})
    assert too_many.status_code == 413 and "at most 4 texts" in too_many.text
    too_big = await limited_service.request("POST", EMBED, token=token, json={"texts": ["y" * 5000]})
    assert too_big.status_code == 413 and "4096 bytes" in too_big.text
    empty = await limited_service.request("POST", EMBED, token=token, json={"texts": []})
    assert empty.status_code == 422
    statuses = [
        (await limited_service.request("POST", EMBED, token=token, json={"texts": ["a"]})).status_code for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    limited = await limited_service.request("POST", EMBED, token=token, json={"texts": ["a"]})
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    # The limit is per principal: another user is unaffected.
    other = await limited_service.issue_token(email="bob@example.com")
    assert (await limited_service.request("POST", EMBED, token=other, json={"texts": ["a"]})).status_code == 200


def chunk(path: str, start: int, end: int, content: str = "code") -> dict:
    return {"content": content, "source_details": {"file_path": path, "start_line": start, "end_line": end}}


async def test_rerank_passthrough_keeps_the_order_and_returns_an_owned_integer_session(limited_service):
    token = await limited_service.issue_token(email="ada@example.com")
    chunks = [chunk("a.py", 1, 3), chunk("b.py", 4, 9)]
    first = await limited_service.request("POST", RERANK, token=token, json={"query": "q", "relevant_chunks": chunks})
    assert first.status_code == 200
    data = first.json()["data"]
    assert data["reranked_denotations"] == ["a.py:1-3", "b.py:4-9"] and isinstance(data["session_id"], int)
    again = await limited_service.request("POST", RERANK, token=token, json={"query": "q", "relevant_chunks": chunks})
    assert again.json()["data"]["session_id"] == data["session_id"], "one hidden auxiliary session per user"
    hidden = await Session.get(id=data["session_id"])
    assert hidden.is_auxiliary

    team = await get_or_create_team("elsewhere")
    stranger = await User.create(email="eve@example.com", name="Eve")
    foreign = await Session.create(team_id=team.id, user_id=stranger.id, session_type="CHAT", summary="")
    refused = await limited_service.request(
        "POST",
        RERANK,
        token=token,
        headers={"X-Session-ID": str(foreign.id)},
        json={"query": "q", "relevant_chunks": chunks},
    )
    assert refused.status_code == 404 and refused.json()["error"]["message"] == "SESSION_NOT_FOUND"
    malformed = await limited_service.request("POST", RERANK, token=token, json={"query": "q", "relevant_chunks": [{}]})
    assert malformed.status_code == 422


async def test_llm_rerank_orders_by_the_model_and_keeps_only_given_denotations(database_url, redis_url, tmp_path):
    script = tmp_path / "script.json"
    settings = scripted_settings(database_url, redis_url, script)
    settings = settings.model_copy(update={"search": settings.search.model_copy(update={"llm_rerank": True})})
    running = await start_service(settings)
    try:
        token = await running.issue_token()
        chunks = [
            chunk("a.py", 1, 3, "def parse(): ..."),
            chunk("b.py", 4, 9, "def upload(): ..."),
            chunk("c.py", 1, 2),
        ]
        answer = "1. [b.py:4-9]\n2. [zzz.py:1-1]\n3. a.py:1-3\n[b.py:4-9]"
        script.write_text(json.dumps({"mode": "repeat", "responses": [{"text": answer}]}))
        ranked = await running.request("POST", RERANK, token=token, json={"query": "upload", "relevant_chunks": chunks})
        assert ranked.json()["data"]["reranked_denotations"] == ["b.py:4-9", "a.py:1-3"]
        # A model failure keeps the client's order rather than failing the request.
        script.write_text(json.dumps({"mode": "repeat", "responses": [{"error": {"kind": "provider", "status": 500}}]}))
        kept = await running.request("POST", RERANK, token=token, json={"query": "upload", "relevant_chunks": chunks})
        assert kept.status_code == 200
        assert kept.json()["data"]["reranked_denotations"] == ["a.py:1-3", "b.py:4-9", "c.py:1-2"]
    finally:
        await stop_service(running)
