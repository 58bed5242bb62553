"""Code search end to end against a real server process: `adjutant index` and `adjutant search` on the
deployment's database, the `code_search` server tool inside a chat, and the §4.2 routes (C15)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx

from tests.contract.conftest import ROOT
from tests.search.conftest import FILES, write_tree

HEADERS = {"X-Client": "BINARY", "X-Client-Version": "16.1.0"}


async def cli(deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli.main", *args],
        cwd=ROOT,
        env={**deployment.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_indexed_code_is_found_by_the_cli_and_by_agents_through_code_search(deployment, tmp_path):
    write_tree(tmp_path / "shop", FILES)
    indexed = await cli(deployment, "index", str(tmp_path / "shop"), "--name", "shop", "--team", "core")
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    assert "shop: 5 files" in indexed.stdout and "5 changed" in indexed.stdout
    again = await cli(deployment, "index", str(tmp_path / "shop"), "--name", "shop", "--team", "core")
    assert "0 changed" in again.stdout and "0 embedded" in again.stdout

    found = await cli(deployment, "search", "open a TCP connection", "--team", "core", "--top-k", "2", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 2 and hits[0]["path"] == "src/net/http_client.py" and hits[0]["repository"] == "shop"
    readable = await cli(deployment, "search", "cart total", "--team", "core", "--top-k", "1")
    assert "shop:web/src/cart.ts:" in readable.stdout
    missing = await cli(deployment, "search", "x", "--team", "core", "--repo", "nope")
    assert missing.returncode != 0 and "no indexed repository named nope" in (missing.stdout + missing.stderr)

    deployment.script(
        {"tool_calls": [{"name": "code_search", "input": {"query": "open a TCP connection to a server"}}]},
        {"text": "It is open_connection in src/net/http_client.py."},
    )
    socket = await deployment.client().socket()
    turn = await socket.ask({"query": "where do we connect to servers?"})
    assert turn.compact() == ["SS", "SI", "RM", "T", "TC", "QC", "SECC"], "server tools need no client round trip"
    calls = deployment.model_calls()
    assert "code_search" in calls[0]["tools"]
    result = next(m for m in reversed(calls[-1]["messages"]) if m["role"] == "tool")["parts"][0]
    text = result["content"][0]["text"]
    assert not result["is_error"] and "shop:src/net/http_client.py:" in text and "def open_connection" in text
    await socket.close()


async def test_c15_embedding_and_rerank_routes(deployment):
    token = deployment.tokens["ada"]
    async with httpx.AsyncClient(base_url=deployment.url(), timeout=30) as http:
        auth = {**HEADERS, "Authorization": f"Bearer {token}"}
        embedded = await http.post(
            "/end_user/v1/code-gen/create-embedding", headers=auth, json={"texts": ["a", "b c", "def f(): pass"]}
        )
        vectors = embedded.json()["data"]["embeddings"]
        assert embedded.status_code == 200 and len(vectors) == 3 and {len(v) for v in vectors} == {384}
        anonymous = await http.post("/end_user/v1/code-gen/create-embedding", headers=HEADERS, json={"texts": ["a"]})
        assert anonymous.status_code == 400

        chunks = [
            {"content": "x", "source_details": {"file_path": "a.py", "start_line": 1, "end_line": 3}},
            {"content": "y", "source_details": {"file_path": "b.py", "start_line": 2, "end_line": 8}},
        ]
        reranked = await http.post(
            "/end_user/v1/chunks/rerank-via-llm", headers=auth, json={"query": "q", "relevant_chunks": chunks}
        )
        data = reranked.json()["data"]
        assert set(data["reranked_denotations"]) <= {"a.py:1-3", "b.py:2-8"}
        assert isinstance(data["session_id"], int)
