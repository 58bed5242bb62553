"""PROTOCOL §3 configuration routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.client_config import ClientConfigSnapshots
from app.api.envelopes import success_raw
from app.api.validation import parse_query

bp = Blueprint("configs", url_prefix="/end_user/v1/configs")

OperatingSystem = Literal["darwin", "linux", "win32"]
Architecture = Literal["x64", "arm64"]


class EssentialQuery(BaseModel):
    consumer: Literal["VSCODE_EXT", "BINARY"]
    os: OperatingSystem
    arch: Architecture


class ConfigsQuery(BaseModel):
    consumer: Literal["VSCODE_EXT", "BINARY"]
    os: OperatingSystem | None = None
    arch: Architecture | None = None


# Bootstrap route: no bearer, and no version check so outdated clients can still start (PROTOCOL §1.3).
@bp.get("/get-essential-configs", ctx_auth="none", ctx_client="no_version")
async def essential_configs(request: Request) -> HTTPResponse:
    query = parse_query(request, EssentialQuery)
    snapshots: ClientConfigSnapshots = request.app.ctx.client_config
    return success_raw(snapshots.essential[(query.os, query.arch)])


@bp.get("/get-configs")
async def configs(request: Request) -> HTTPResponse:
    query = parse_query(request, ConfigsQuery)
    snapshots: ClientConfigSnapshots = request.app.ctx.client_config
    return success_raw(snapshots.vscode if query.consumer == "VSCODE_EXT" else snapshots.local_binary)
