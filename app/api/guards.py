"""Request middleware: request ids, access logs and metrics, client validation and authentication.

Each route declares its policy with Sanic route context: `ctx_auth` ("required" | "optional" | "none") and
`ctx_client` ("full" | "no_version" | "none"). Routes under /end_user default to required auth and full
client checks; everything else defaults to none.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from sanic import HTTPResponse, Request, Sanic

from app.api.client_check import check_client
from app.auth.tokens import Authentication, TokenService
from app.errors import NotVerified
from app.runtime import metrics
from app.runtime.logging import request_id_var
from app.runtime.settings import Settings

log = logging.getLogger("adjutant.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ROTATION_HEADER = "new_session_data"


def route_policy(request: Request) -> tuple[str, str]:
    if request.route is None:  # unmatched: let the router's 404/405 through untouched
        return "none", "none"
    return path_policy(request.path, request.route.ctx)


def path_policy(path: str, ctx: Any) -> tuple[str, str]:
    """The (auth, client) policy of a route at `path` with route context `ctx` (also read by the API docs)."""
    end_user = path.startswith("/end_user")
    default_auth, default_client = ("required", "full") if end_user else ("none", "none")
    return getattr(ctx, "auth", default_auth), getattr(ctx, "client", default_client)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def install(app: Sanic) -> None:
    @app.on_request(priority=100)
    async def begin(request: Request) -> None:
        supplied = request.headers.get("x-request-id") or ""
        request.ctx.request_id = supplied if REQUEST_ID.match(supplied) else uuid.uuid4().hex
        request_id_var.set(request.ctx.request_id)
        request.ctx.started = time.perf_counter()
        request.ctx.auth = None
        if request.route is not None and request.route.extra.websocket:
            return  # no response passes `finish` for an upgrade: sockets are counted by the socket route
        metrics.HTTP_IN_PROGRESS.inc()
        request.ctx.counted = True

    @app.on_request(priority=50)
    async def authenticate(request: Request) -> None:
        settings: Settings = request.app.ctx.settings
        auth_mode, client_mode = route_policy(request)
        if client_mode != "none":
            check_client(request.headers, settings.client, check_version=client_mode == "full")
        if auth_mode == "none":
            return
        raw = bearer_token(request)
        if raw is None and auth_mode == "optional":
            return
        tokens: TokenService = request.app.ctx.tokens
        try:
            request.ctx.auth = await tokens.authenticate(raw)
        except NotVerified as exc:
            metrics.AUTH_FAILURES.labels(reason=str(exc.detail)).inc()
            raise

    @app.on_response(priority=100)
    async def finish(request: Request, response: HTTPResponse) -> None:
        auth: Authentication | None = getattr(request.ctx, "auth", None)
        if auth is not None and auth.replacement:
            response.headers[ROTATION_HEADER] = auth.replacement
            metrics.TOKENS_ROTATED.inc()
        request_id = getattr(request.ctx, "request_id", None)
        if request_id:
            response.headers["x-request-id"] = request_id
        if getattr(request.ctx, "counted", False):
            request.ctx.counted = False
            metrics.HTTP_IN_PROGRESS.dec()
            elapsed = time.perf_counter() - request.ctx.started
            route = request.route.path if request.route is not None else "unmatched"
            metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status)).inc()
            metrics.HTTP_LATENCY.labels(request.method, route).observe(elapsed)
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status,
                extra={"status": response.status, "duration_ms": round(elapsed * 1000, 2), "route": route},
            )
