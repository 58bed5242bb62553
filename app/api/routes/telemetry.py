"""A discarding sink for the extension's telemetry (RUDDER.DATA_PLANE_URL defaults here): nothing is kept."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from app.api.paths import TELEMETRY_SINK

bp = Blueprint("telemetry")


@bp.route(TELEMETRY_SINK + "/<rest:path>", methods=["GET", "POST", "PUT"], ctx_auth="none", ctx_client="none")
async def sink(_request: Request, rest: str) -> HTTPResponse:
    return json({})
