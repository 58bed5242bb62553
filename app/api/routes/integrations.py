"""A team's connections over HTTP: add, list, read, test and remove. Credentials go in and never come out."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import documented
from app.api.validation import parse_body
from app.auth.roles import require_role
from app.integrations.connections import ConnectionCheck, ConnectionInput, Connections, ConnectionView

bp = Blueprint("integrations", url_prefix="/v1")


def _connections(request: Request) -> Connections:
    return request.app.ctx.connections


@bp.post("/integrations", ctx_auth="required", ctx_client="none")
@documented(
    summary="Connect a service for the team",
    description="Needs the admin role in the team. Credentials are encrypted before they are stored and are "
    "never returned. The base URL must be a "
    "public address unless the operator allow-lists it (integrations.allowed_hosts). Answers 409 when the team "
    "already has a connection of that name.",
    body=ConnectionInput,
    response=ConnectionView,
    status=201,
    errors=[403, 409],
    tag="integrations",
)
async def add_connection(request: Request) -> HTTPResponse:
    body = parse_body(request, ConnectionInput)
    principal = request.ctx.auth.principal
    await require_role(principal, "admin", action="adding a connection")
    view = await _connections(request).add(principal.team_id, principal.user_id, body)
    return success(view.model_dump(mode="json"), status=201)


@bp.get("/integrations", ctx_auth="required", ctx_client="none")
@documented(summary="The team's connections", response=list[ConnectionView], tag="integrations")
async def list_connections(request: Request) -> HTTPResponse:
    views = await _connections(request).list(request.ctx.auth.principal.team_id)
    return success([v.model_dump(mode="json") for v in views])


@bp.get("/integrations/<connection_id>", ctx_auth="required", ctx_client="none")
@documented(summary="One connection", response=ConnectionView, errors=[404], tag="integrations")
async def get_connection(request: Request, connection_id: str) -> HTTPResponse:
    view = await _connections(request).get(request.ctx.auth.principal.team_id, connection_id)
    return success(view.model_dump(mode="json"))


@bp.post("/integrations/<connection_id>/test", ctx_auth="required", ctx_client="none")
@documented(
    summary="Test a connection",
    description="One cheap authenticated call; reports who the credentials act as and the scopes the service "
    "shows. A refused or unreachable service is a result with ok=false and the typed reason, not an error.",
    response=ConnectionCheck,
    errors=[404],
    tag="integrations",
)
async def test_connection(request: Request, connection_id: str) -> HTTPResponse:
    result = await _connections(request).test(request.ctx.auth.principal.team_id, connection_id)
    return success(result.model_dump(mode="json"))


@bp.delete("/integrations/<connection_id>", ctx_auth="required", ctx_client="none")
@documented(
    summary="Remove a connection",
    description="Needs the admin role in the team.",
    response=ConnectionView,
    errors=[403, 404],
    tag="integrations",
)
async def remove_connection(request: Request, connection_id: str) -> HTTPResponse:
    principal = request.ctx.auth.principal
    await _connections(request).get(principal.team_id, connection_id)  # another team's id: 404, not 403
    await require_role(principal, "admin", action="removing a connection")
    view = await _connections(request).remove(principal.team_id, connection_id)
    return success(view.model_dump(mode="json"))
