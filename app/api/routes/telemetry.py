"""A discarding sink for the extension's telemetry (RUDDER.DATA_PLANE_URL defaults here): nothing is kept."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from app.api.openapi import undocumented
from app.api.paths import TELEMETRY_SINK

bp = Blueprint("telemetry")


@undocumented  # one handler behind several paths; not a client API
async def sink(_request: Request, **_: str) -> HTTPResponse:
    return json({})


# The extension posts batches to the advertised URL itself and its SDK appends paths (/v1/batch, ...):
# both must succeed, or every client event becomes an unhandled rejection in the extension.
for name, path in (("sink", TELEMETRY_SINK), ("sink_path", TELEMETRY_SINK + "/<rest:path>")):
    bp.add_route(sink, path, methods=["GET", "POST", "PUT"], name=name, ctx_auth="none", ctx_client="none")
