"""The extension's settings and profile panel (docs/protocol.md §4.1): thin adapters over `app.extension`."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import documented
from app.api.validation import parse_body, parse_query
from app.db.wire_types import WireStr
from app.extension import profile, user_settings
from app.extension.profile import ProfileUi
from app.extension.user_settings import ExtensionSettings

bp = Blueprint("extension")


class ProfileUiQuery(BaseModel):
    session_type: WireStr | None = Field(default=None, max_length=64)  # accepted, not used: one panel for all


@bp.get("/end_user/v1/extension_settings/get_extension_settings")
@documented(summary="The user's extension settings", response=ExtensionSettings, tag="extension")
async def get_extension_settings(request: Request) -> HTTPResponse:
    settings = await user_settings.current(request.ctx.auth.principal)
    return success(settings.model_dump(mode="json"))


@bp.post("/end_user/v1/extension_settings/update_extension_settings")
@documented(
    summary="Replace the user's extension settings",
    description="A full replace: the body carries the whole terminal_settings object.",
    body=ExtensionSettings,
    response=ExtensionSettings,
    tag="extension",
)
async def update_extension_settings(request: Request) -> HTTPResponse:
    body = parse_body(request, ExtensionSettings)
    settings = await user_settings.replace(request.ctx.auth.principal, body)
    return success(settings.model_dump(mode="json"))


@bp.get("/end_user/v1/ui_data/profile_ui")
@documented(summary="The profile panel", query=ProfileUiQuery, response=ProfileUi, tag="extension")
async def profile_ui(request: Request) -> HTTPResponse:
    parse_query(request, ProfileUiQuery)
    app = request.app
    panel = await profile.panel(
        request.ctx.auth.principal,
        models=app.ctx.models,
        version=app.ctx.version,
        server_url=app.ctx.settings.server.base_url(),
        docs_url=app.ctx.settings.extension.docs_url,
    )
    return success(panel.model_dump(mode="json", exclude_none=True))
