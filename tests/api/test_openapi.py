"""The OpenAPI document at /docs: every route declared with its models, every $ref resolvable, the guard
policy visible, and real responses shaped as the document says."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, RootModel

from app.api import openapi, openapi_document
from app.api.guards import path_policy
from app.api.openapi import ErrorEnvelope, declaration
from app.api.openapi_document import openapi30
from app.db.repositories import chat as chat_repo
from app.db.repositories import code as code_repo
from tests.api.test_llm_routes import scripted_settings, sse_events
from tests.conftest import make_settings, start_service, stop_service

COMPONENT = re.compile(r"^#/components/schemas/([A-Za-z0-9._-]+)$")


@pytest.fixture
async def docs_service(database_url, redis_url, tmp_path):
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps({"mode": "repeat", "responses": [{"text": "Hello from the script", "chunk_chars": 5}]})
    )
    service = await start_service(scripted_settings(database_url, redis_url, script), openapi=True)
    service.spec = (await service.request("GET", "/docs/openapi.json", client_headers=False)).json()
    yield service
    await stop_service(service)


def api_routes(app) -> list[Any]:
    """The app's routes, without those of the documentation blueprint itself."""
    return [route for route in app.router.routes if route.name.split(".")[1:2] != ["openapi"]]


def spec_path(route) -> str:
    return "/" + re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.path)


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs_in(value)]
    return []


def component(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"][COMPONENT.match(schema["$ref"])[1]]


def conforms(model: Any, body: Any) -> None:
    """`body` validates against `model` and carries nothing the model does not declare."""
    parsed = model.model_validate(body)
    assert parsed.model_dump(mode="json", exclude_unset=True) == body, f"{model.__name__} does not match {body}"


async def test_schemas_are_built_on_the_first_request_of_the_document_not_at_start_up(
    database_url, redis_url, monkeypatch
):
    monkeypatch.setattr(openapi_document, "_APPLIED", set())  # as in a fresh process
    passes = []
    build = openapi_document._schemas
    monkeypatch.setattr(openapi_document, "_schemas", lambda *args: passes.append(1) or build(*args))
    service = await start_service(make_settings(database_url, redis_url), openapi=True)
    try:
        assert passes == [], "start-up must not generate schemas"
        first = (await service.request("GET", "/docs/openapi.json", client_headers=False)).json()
        again = (await service.request("GET", "/docs/openapi.json", client_headers=False)).json()
        assert passes == [1] and first == again and first["components"]["schemas"]
    finally:
        await stop_service(service)


async def test_every_route_has_an_operation_with_its_response_schema(docs_service):
    spec = docs_service.spec
    assert spec["components"]["schemas"], "components.schemas must not be empty"
    operation_ids = []
    for route in api_routes(docs_service.app):
        if openapi.is_excluded(route.handler):
            assert spec_path(route) not in spec["paths"], f"{route.name} is excluded but documented"
            continue
        for method in route.methods:
            operation = spec["paths"].get(spec_path(route), {}).get(method.lower())
            assert operation is not None, f"{method} {spec_path(route)} has no operation"
            operation_ids.append(operation["operationId"])
            parameters = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
            assert len(parameters) == len(set(parameters)), f"{route.name} repeats a parameter"
            if route.extra.websocket:
                described = (
                    "docs/protocol.md §5" in operation["description"]
                    or "docs/review-protocol.md §" in (operation["description"])
                )
                assert described and "101" in operation["responses"]
                continue
            assert declaration(route.handler) is not None, f"{route.name} is not @documented"
            successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
            assert successes, f"{route.name} declares no success response"
            for status, response in successes.items():
                if status != "204":
                    assert all("schema" in media for media in response["content"].values()), route.name
            assert operation["responses"]["500"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"
            }
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    assert not any(p.startswith("/telemetry") or p.startswith("/end_user/v2/ide-reviews") for p in spec["paths"])
    assert not any(p.endswith(("/run-agent", "/legacy-post-process")) for p in spec["paths"]), (
        "501 routes are not documented"
    )


async def test_every_ref_resolves_to_a_component_in_the_openapi_30_dialect(docs_service):
    spec = docs_service.spec
    schemas = spec["components"]["schemas"]
    refs = refs_in(spec)
    assert len(refs) > 50
    for ref in refs:
        match = COMPONENT.match(ref)
        assert match and match[1] in schemas, f"unresolvable $ref {ref}"
    text = json.dumps(spec)
    for leftover in ('"type": "null"', '"const":', '"prefixItems":', '"$defs":'):
        assert leftover not in text, f"JSON Schema 2020-12 keyword {leftover} in an OpenAPI 3.0 document"
    for python_name in ('"ge":', '"le":', '"gt":', '"lt":'):  # pydantic's names for bounds it could not place
        assert python_name not in text, f"{python_name} is no JSON Schema keyword: a bound the document lost"


async def test_success_bodies_are_the_envelope_with_data_typed_by_the_model(docs_service):
    spec = docs_service.spec
    sessions = spec["paths"]["/end_user/v1/history/sessions"]["get"]["responses"]["200"]
    envelope = component(spec, sessions["content"]["application/json"]["schema"])
    assert set(envelope["required"]) == {"data", "is_success", "status_code"}
    assert envelope["properties"]["is_success"]["enum"] == [True]
    page = component(spec, envelope["properties"]["data"])
    assert set(page["properties"]) == {"sessions", "has_more"}
    item = component(spec, page["properties"]["sessions"]["items"])
    assert set(item["properties"]) == {"id", "summary", "age", "pinned_rank", "created_at", "updated_at"}
    deleted = spec["paths"]["/end_user/v1/history/delete-session"]["put"]["responses"]["200"]
    assert component(spec, deleted["content"]["application/json"]["schema"])["properties"]["data"]["enum"] == [None]
    ping = spec["paths"]["/ping"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(component(spec, ping)["properties"]) == {"ping"}, "unenveloped routes show the bare model"
    not_found = spec["paths"]["/end_user/v1/history/chats"]["get"]["responses"]["404"]
    error = component(spec, not_found["content"]["application/json"]["schema"])
    assert set(error["required"]) == {"is_success", "status_code", "error"}


async def test_bodies_and_query_strings_declare_their_models(docs_service):
    spec, app = docs_service.spec, docs_service.app
    for route in api_routes(app):
        doc = declaration(route.handler)
        if doc is None:
            continue
        for method in route.methods:
            operation = spec["paths"][spec_path(route)][method.lower()]
            if doc.body is not None:
                schema = operation["requestBody"]["content"][doc.body_media]["schema"]
                declared = doc.body.model_json_schema()
                assert component(spec, schema)["title"] == declared["title"], route.name
                assert set(component(spec, schema).get("properties", {})) == set(declared.get("properties", {}))
            else:
                assert "requestBody" not in operation, route.name
            query = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
            if doc.query is not None:
                fields = doc.query.model_fields
                assert set(query) == set(fields), route.name
                assert all(query[name]["required"] == field.is_required() for name, field in fields.items())
    dragged = spec["paths"]["/end_user/v1/history/session-dragged"]["put"]["requestBody"]
    ranks = component(spec, dragged["content"]["application/json"]["schema"])
    assert ranks["additionalProperties"] is False, "keys are session ids, nothing else"
    assert ranks["patternProperties"] == {
        "^[1-9][0-9]{0,15}$": {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    }
    upload = spec["paths"]["/uploads"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]


async def test_guard_policy_shows_as_bearer_security_and_client_headers(docs_service):
    spec, app = docs_service.spec, docs_service.app
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "Bearer")
    for route in api_routes(app):
        if openapi.is_excluded(route.handler) or route.extra.websocket:
            continue
        auth, client = path_policy(spec_path(route), route.ctx)
        for method in route.methods:
            operation = spec["paths"][spec_path(route)][method.lower()]
            headers = {p["name"]: p["required"] for p in operation.get("parameters", []) if p["in"] == "header"}
            assert ("X-Client" in headers) == (client != "none"), route.name
            assert ("X-Client-Version" in headers) == (client == "full"), route.name
            assert all(headers[name] for name in ("X-Client", "X-Client-Version") if name in headers)
            secured = {"bearer": []} in operation.get("security", [])
            assert secured == (auth != "none" or bool(declaration(route.handler).bearer)), route.name
            assert ({} in operation.get("security", [])) == (auth == "optional"), route.name
    essential = spec["paths"]["/end_user/v1/configs/get-essential-configs"]["get"]
    assert "security" not in essential, "the bootstrap route needs no bearer (docs/protocol.md §1.3)"
    verify = spec["paths"]["/end_user/v1/auth/verify-auth-token"]["post"]
    assert verify["security"] == [{"bearer": []}], "verify reads the bearer itself"
    chats = spec["paths"]["/end_user/v1/history/chats"]["get"]["parameters"]
    assert next(p for p in chats if p["name"] == "X-Session-ID")["required"] is True


async def test_refusals_every_route_can_give_are_declared_on_every_operation(docs_service):
    """Found by tests/api/test_fuzz.py: the text checks of app.api.validation (422) and Sanic's size limits
    (413) answer on any route, and Sanic drops a blank query value, so `?top_k=` reads as an absent one."""
    spec = docs_service.spec
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "101" in operation["responses"]:
                continue  # the WebSocket
            assert {"413", "422"} <= set(operation["responses"]), f"{method} {path}"
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    assert parameter.get("allowEmptyValue", False) is not parameter["required"], parameter
    login = spec["paths"]["/external-auth"]["post"]["responses"]["422"]
    assert "NUL" in login["description"], "the browser form refuses unstorable text like any body"
    assert "404" in spec["paths"]["/v1/search"]["get"]["responses"], "an unknown repo name is not found"


def docs_operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return spec["paths"][path][method.lower()]


def answer_model(app, method: str, path: str) -> Any:
    """The model the document declares for the success body of the route serving `method path`."""
    _route, handler, _params = app.router.get(path, method, None)
    return declaration(handler).answer


async def test_real_responses_match_their_declared_models(docs_service):
    service, app = docs_service, docs_service.app
    token = await service.issue_token(email="ada@example.com")
    principal = (await app.ctx.tokens.authenticate(token)).principal
    session = await chat_repo.create_session(
        team_id=principal.team_id,
        user_id=principal.user_id,
        session_type="VSCODE_EXT_SESSION",
        summary="Explain the parser",
    )
    await chat_repo.add_element(
        team_id=session.team_id,
        session_id=session.id,
        actor="USER",
        message_type="TEXT",
        payload={"text": "Explain the parser", "focus_items": []},
    )
    in_session = {"X-Session-ID": str(session.id)}
    repository = await code_repo.get_or_create_repository(
        team_id=principal.team_id, name="billing", source="/srv/billing", source_kind="local"
    )
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/ping", {"client_headers": False}),
        ("GET", "/", {"client_headers": False}),
        ("GET", "/health", {"client_headers": False}),
        (
            "GET",
            "/end_user/v1/configs/get-essential-configs",
            {"params": {"consumer": "VSCODE_EXT", "os": "linux", "arch": "x64"}},
        ),
        ("GET", "/end_user/v1/configs/get-configs", {"params": {"consumer": "VSCODE_EXT"}, "token": token}),
        ("GET", "/end_user/v1/configs/get-configs", {"params": {"consumer": "BINARY"}, "token": token}),
        ("POST", "/end_user/v1/auth/verify-auth-token", {"json": {}, "token": token}),
        ("POST", "/end_user/v1/auth/verify-auth-token", {"json": {}, "token": "not-a-token"}),
        ("GET", "/end_user/v1/auth/get-session", {"headers": {"X-Unique-Session-Id": "0" * 32}}),
        ("GET", "/end_user/v1/history/sessions", {"token": token}),
        ("GET", "/end_user/v1/history/chats", {"token": token, "headers": in_session}),
        ("POST", "/end_user/v2/code-gen/cancel", {"token": token, "headers": in_session}),
        ("PUT", "/end_user/v1/history/delete-session", {"token": token, "headers": in_session}),
        ("GET", "/v1/llm/models", {"token": token, "client_headers": False}),
        (
            "POST",
            "/end_user/v1/urls/save_url",
            {"token": token, "json": {"name": "Docs", "url": "https://example.com"}},
        ),
        ("GET", "/end_user/v1/urls/saved_url/list", {"token": token}),
        ("GET", "/end_user/v1/extension_settings/get_extension_settings", {"token": token}),
        ("GET", "/end_user/v1/ui_data/profile_ui", {"token": token}),
        ("GET", "/v1/repositories", {"token": token, "client_headers": False}),
        ("GET", f"/v1/repositories/{repository.id}", {"token": token, "client_headers": False}),
        (
            "POST",
            "/end_user/v1/file-upload/get-presigned-post-url",
            {
                "token": token,
                "json": {"file_name": "a.png", "file_size": 10, "file_type": "image/png", "folder": "image"},
            },
        ),
        (
            "POST",
            "/end_user/v1/chunks/rerank-via-llm",
            {
                "token": token,
                "json": {
                    "query": "q",
                    "relevant_chunks": [
                        {"content": "x", "source_details": {"file_path": "a.py", "start_line": 1, "end_line": 2}}
                    ],
                },
            },
        ),
    ]
    for method, path, kwargs in calls:
        response = await service.request(method, path, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        conforms(answer_model(app, method, path), response.json())
    sessions = (await service.request("GET", "/end_user/v1/history/sessions", token=token)).json()["data"]
    assert sessions["sessions"] == [], "the session above was deleted"

    for method, path, kwargs in [
        ("GET", "/end_user/v1/history/sessions", {"token": token, "params": {"limit": 0}}),
        ("GET", "/end_user/v1/history/chats", {"token": token, "headers": {"X-Session-ID": "999999"}}),
        ("GET", "/end_user/v1/history/sessions", {"token": token, "client_headers": False}),
        ("GET", "/end_user/v1/configs/get-configs", {"params": {"consumer": "BINARY"}}),
        ("GET", "/end_user/v1/code-gen/get-job-status", {"token": token, "params": {"job_id": "424242"}}),
    ]:
        response = await service.request(method, path, **kwargs)
        assert str(response.status_code) in docs_operation(service.spec, method, path)["responses"], response.text
        conforms(ErrorEnvelope, response.json())

    stream = await service.request(
        "POST",
        "/v1/llm/stream",
        token=token,
        client_headers=False,
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    events = [data for kind, data in sse_events(stream.text) if kind != "done"]
    assert len(events) > 3
    for data in events:
        conforms(answer_model(app, "POST", "/v1/llm/stream"), data)

    solver = await service.request("POST", "/v1/query-solver/stream", token=token, json={"query": "hi"})
    frames = [json.loads(line[len("data: ") :]) for line in solver.text.splitlines() if line.startswith("data: ")]
    assert frames[0]["data"]["type"] == "STREAM_START" and len(frames) > 3, solver.text
    for frame in frames:
        conforms(answer_model(app, "POST", "/v1/query-solver/stream"), frame)


class Inner(BaseModel):
    """An inner model."""

    n: int = Field(gt=0, lt=10)


class Outer(BaseModel):
    maybe: int | None = None
    kind: Literal["only"]
    pair: tuple[int, int]
    inner: Inner = Field(description="Described where it is used.")
    either: Inner | None = None


class Ranks(RootModel[dict[str, int]]):
    pass


def test_pydantic_schemas_are_rewritten_in_the_openapi_30_dialect():
    schema = openapi30(Outer.model_json_schema(ref_template="#/components/schemas/{model}"))
    props = schema["properties"]
    assert props["maybe"] == {"type": "integer", "default": None, "title": "Maybe", "nullable": True}
    assert props["kind"]["enum"] == ["only"] and "const" not in props["kind"]
    assert props["pair"]["items"] == {"type": "integer"} and "prefixItems" not in props["pair"]
    assert props["inner"] == {
        "allOf": [{"$ref": "#/components/schemas/Inner"}],
        "description": props["inner"]["description"],
    }
    assert props["either"]["allOf"] == [{"$ref": "#/components/schemas/Inner"}] and props["either"]["nullable"] is True
    inner = openapi30(schema["$defs"]["Inner"])["properties"]["n"]
    assert inner == {
        "exclusiveMinimum": True,
        "minimum": 0,
        "exclusiveMaximum": True,
        "maximum": 10,
        "title": "N",
        "type": "integer",
    }
    assert openapi30(Ranks.model_json_schema())["additionalProperties"] == {"type": "integer"}
