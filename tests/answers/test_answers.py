"""POST /v1/answer and /v1/answer/stream: cited answers from the team's indexed code, "I don't know" without
a model call when nothing is relevant, the event order, team scoping, and streams that always end."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
import typer
from rich.console import Console

from app.agents.code_qa.agent import AGENT as CODE_QA
from app.cli.ask import stream_answer
from app.db.repositories.identity import get_or_create_team, team_named
from app.tools.server_tools import ToolContext
from tests.answers.conftest import ask
from tests.api.scripted_models import scripted_settings
from tests.conftest import start_service, stop_service

QUESTION = "how do we open a TCP connection to a remote server?"


def sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def message_text(message: dict) -> str:
    return "".join(part.get("text", "") for part in message["parts"])


def shown_sources(call: dict) -> str:
    return next(message_text(m) for m in call["messages"] if m["role"] == "system")


async def test_an_answer_cites_the_retrieved_code_and_loses_citations_naming_no_source(answering):
    answering.chat.play({"text": "open_connection creates the socket with a timeout [1]. It also sets up TLS [9]."})
    response = await ask(answering, {"query": QUESTION, "max_results": 3})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["answered"] is True and data["model"] == "scripted"
    paths = [s["path"] for s in data["sources"]]
    assert "src/net/http_client.py" in paths
    first = data["sources"][0]
    assert first["number"] == 1 and first["kind"] == "code" and first["repository"] == "shop"
    assert data["answer"] == "open_connection creates the socket with a timeout [1]. It also sets up TLS ."
    assert data["citations"] == {"cited": [1], "removed": [9]}
    # The model was shown exactly the numbered sources the client got back.
    (call,) = answering.chat.calls()
    system = shown_sources(call)
    for source in data["sources"]:
        assert f"[{source['number']}] shop:{source['path']}:{source['start_line']}-{source['end_line']}" in system
    assert "def open_connection" in system
    # The file's chunks were close enough to be shown as one stretch: once, with the import above it.
    (client,) = [s for s in data["sources"] if s["path"] == "src/net/http_client.py"]
    assert client["text"].startswith("import socket") and client["text"].count("def open_connection") == 1


async def test_nothing_relevant_answers_i_dont_know_without_asking_a_model(answering):
    response = await ask(answering, {"query": "which migratory birds winter on the Antarctic peninsula"})
    data = response.json()["data"]
    assert response.status_code == 200
    assert data["answered"] is False and data["sources"] == [] and data["model"] is None
    assert data["answer"].startswith("I don't know")
    assert data["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert answering.chat.calls() == []


async def test_the_stream_sends_sources_then_deltas_then_usage(answering):
    answering.chat.play(
        {
            "text": "It calls socket.create_connection [1] and disables Nagle [1].",
            "chunk_chars": 7,
            "usage": {"input_tokens": 321, "output_tokens": 17},
        }
    )
    response = await ask(answering, {"query": QUESTION, "include_sources": False}, stream=True)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "final" and set(kinds[1:-1]) == {"delta"} and len(kinds) > 3
    sources = events[0][1]["sources"]
    assert sources and all(s["text"] is None for s in sources)  # include_sources false: where, not what
    assert "".join(d["text"] for k, d in events if k == "delta") == (
        "It calls socket.create_connection [1] and disables Nagle [1]."
    )
    final = events[-1][1]
    assert final["answered"] is True and final["citations"] == {"cited": [1], "removed": []}
    assert final["usage"]["input_tokens"] == 321 and final["usage"]["output_tokens"] == 17


async def test_a_model_failure_mid_stream_is_an_error_event_and_the_stream_ends(answering):
    answering.chat.play(
        {"text": "It opens a socket and then", "chunk_chars": 5, "error": {"kind": "provider", "after_chunks": 2}}
    )
    response = await ask(answering, {"query": QUESTION}, stream=True)
    events = sse(response.text)  # the body is complete: the server ended the stream
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "error" and "final" not in kinds
    assert "delta" in kinds
    assert events[-1][1]["code"] == "PROVIDER_ERROR"


async def test_a_model_failure_before_output_is_an_http_error_on_the_whole_answer(answering):
    answering.chat.play({"error": {"kind": "provider", "status": 500}})
    response = await ask(answering, {"query": QUESTION})
    assert response.status_code == 502 and response.json()["error"]["message"] == "PROVIDER_ERROR"


async def test_answers_draw_only_on_the_callers_team(answering):
    outsider = await answering.issue_token(email="eve@example.com", team="other")
    response = await ask(answering, {"query": QUESTION}, token=outsider)
    data = response.json()["data"]
    assert data["answered"] is False and data["sources"] == []
    assert answering.chat.calls() == []
    # Naming the other team's index answers exactly like naming one that does not exist.
    foreign = await ask(answering, {"query": QUESTION, "repositories": ["shop"]}, token=outsider, stream=True)
    unknown = await ask(answering, {"query": QUESTION, "repositories": ["nope"]}, stream=True)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"]["message"] == unknown.json()["error"]["message"] == "NOT_FOUND"


async def test_bad_requests_are_refused_before_anything_runs(answering):
    for body in (
        {"query": ""},
        {"query": QUESTION, "response_type": "poem"},
        {"query": QUESTION, "max_results": 0},
        {"query": QUESTION, "sources": ["web"]},
        {"query": QUESTION, "repositories": []},
    ):
        response = await ask(answering, body, stream=True)
        assert response.status_code == 422, (body, response.text)
    # A kind with nothing in it (no documentation imported) is an honest "I don't know", not an error.
    docs = await ask(answering, {"query": QUESTION, "sources": ["docs"]})
    assert docs.status_code == 200 and docs.json()["data"]["answered"] is False
    assert answering.chat.calls() == []


async def test_filters_narrow_the_sources(answering):
    answering.chat.play({"text": "cartTotal sums quantity times price [1]."})
    response = await ask(answering, {"query": "total price of the items in the cart", "language": "typescript"})
    data = response.json()["data"]
    assert data["sources"] and {s["language"] for s in data["sources"]} == {"typescript"}
    assert data["citations"]["cited"] == [1]


async def test_the_helper_model_reranks_the_sources_when_enabled(answering):
    answering.chat.play({"text": "See [1]."}, mode="repeat")
    query = "add up the amounts of all items"
    plain = (await ask(answering, {"query": query, "max_results": 8})).json()["data"]["sources"]
    assert len(plain) >= 2
    first = (await ask(answering, {"query": query, "max_results": 1})).json()["data"]["sources"][0]
    other = next(s for s in plain if s["path"] != first["path"])
    label = f"shop:{other['path']}:{other['start_line']}-{other['end_line']}"

    answers = answering.app.ctx.answers
    answers.retrieval.settings = answers.settings.model_copy(update={"rerank": True})
    answering.helper.play({"text": f"- {label}\n- not-a-source.py:1-2"})
    reranked = (await ask(answering, {"query": query, "max_results": 1})).json()["data"]["sources"]
    # The helper's first choice is the one source kept; a name it invented is ignored.
    assert [s["path"] for s in reranked] == [other["path"]]
    (call,) = answering.helper.calls()
    assert call["purpose"] == "rerank" and query in message_text(call["messages"][0])


async def test_adjutant_ask_streams_the_answer_then_its_sources(answering):
    answering.chat.play({"text": "open_connection makes the socket [1] and [5].", "chunk_chars": 4})
    screen = Console(file=io.StringIO(), width=200, color_system=None)
    body = {"query": QUESTION, "response_type": "explain", "max_results": 3}
    finished = await asyncio.to_thread(stream_answer, answering.base_url, answering.token, body, screen)
    shown = screen.file.getvalue()
    assert finished is True
    assert "open_connection makes the socket [1] and ." in shown
    assert "[1] shop:" in shown and "removed citations naming no source: 5" in shown
    with pytest.raises(typer.Exit):  # a refused request is one readable line and a failing exit
        await asyncio.to_thread(stream_answer, answering.base_url, "adj_not-a-token", body, screen)


async def test_the_code_qa_agent_gets_the_same_retrieval_as_a_server_tool(answering):
    assert "search_sources" in CODE_QA.server_tools
    tool = answering.app.ctx.server_tools.tools["search_sources"]
    team = await team_named("core")
    outsider = await get_or_create_team("other")
    arguments = tool.model(query=QUESTION, max_results=3)
    found = await tool.run(arguments, ToolContext(user_id=1, team_id=team.id, session_id=1, repo_path=None))
    assert "[1] shop:" in found and "def open_connection" in found
    elsewhere = await tool.run(arguments, ToolContext(user_id=2, team_id=outsider.id, session_id=2, repo_path=None))
    assert elsewhere.startswith("No indexed source is relevant")


async def test_the_answer_routes_declare_their_models_in_openapi(database_url, redis_url, tmp_path):
    settings, _, _ = scripted_settings(database_url, redis_url, tmp_path)
    service = await start_service(settings, openapi=True)
    try:
        spec = (await service.request("GET", "/docs/openapi.json", client_headers=False)).json()
    finally:
        await stop_service(service)
    schemas = spec["components"]["schemas"]
    answer = spec["paths"]["/v1/answer"]["post"]
    stream = spec["paths"]["/v1/answer/stream"]["post"]
    for operation in (answer, stream):
        body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert body.endswith("/AnswerBody") and operation["tags"] == ["answers"]
    assert {"query", "sources", "response_type", "max_results", "include_sources"} <= set(
        schemas["AnswerBody"]["properties"]
    )
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {"answer", "sources", "citations", "usage"} <= set(schemas["AnswerResult"]["properties"])
