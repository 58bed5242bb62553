"""The team's integrations: list and test them (any member), connect and remove them (admins). Secrets are
write-only: the form sends them, no page ever shows one (app/integrations/connections.py never returns them)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from app.api.validation import parse_form, validate
from app.auth.roles import require_role
from app.db.wire_types import WireStr
from app.integrations.connection import KINDS
from app.integrations.connections import ConnectionInput, Connections
from app.web.access import page
from app.web.rendering import render

bp = Blueprint("web_integrations", url_prefix="/app")
SECRET_FIELDS = ("token", "app_id", "private_key", "email", "api_token", "username", "password")


class ConnectForm(BaseModel):
    kind: WireStr = Field(max_length=40)
    name: WireStr = Field(max_length=200)
    base_url: WireStr | None = Field(default=None, max_length=500)
    webhook_secret: WireStr | None = Field(default=None, max_length=500)


def connections(request: Request) -> Connections:
    return request.app.ctx.connections


async def _page(request: Request, *, check: object = None, status: int = 200) -> HTTPResponse:
    views = await connections(request).list(request.ctx.web.principal.team_id)
    return render(
        request, "integrations.html", status=status, title="Integrations", connections=views, kinds=KINDS, check=check
    )


@bp.get("/integrations")
@page()
async def integrations(request: Request) -> HTTPResponse:
    return await _page(request)


@bp.post("/integrations")
@page("admin")
async def connect(request: Request) -> HTTPResponse:
    fields, _ = parse_form(request)
    form = validate(ConnectForm, {k: v for k, v in fields.items() if k in ConnectForm.model_fields and v})
    credentials = {k: v for k, v in fields.items() if k in SECRET_FIELDS and v.strip()}
    data = validate(
        ConnectionInput,
        {
            "kind": form.kind,
            "name": form.name,
            "base_url": form.base_url,
            "webhook_secret": form.webhook_secret,
            "credentials": credentials,
        },
    )
    principal = request.ctx.web.principal
    await connections(request).add(principal.team_id, principal.user_id, data)
    return redirect("/app/integrations")


@bp.post("/integrations/<connection_id>/test")
@page()
async def test(request: Request, connection_id: str) -> HTTPResponse:
    check = await connections(request).test(request.ctx.web.principal.team_id, connection_id)
    return await _page(request, check=check)


@bp.post("/integrations/<connection_id>/remove")
@page()
async def remove(request: Request, connection_id: str) -> HTTPResponse:
    principal = request.ctx.web.principal
    await connections(request).get(principal.team_id, connection_id)  # another team's id: 404, not 403
    await require_role(principal, "admin", action="removing a connection")
    await connections(request).remove(principal.team_id, connection_id)
    return redirect("/app/integrations")
