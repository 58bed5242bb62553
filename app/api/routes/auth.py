"""docs/protocol.md §2: token verification, login polling, and the browser login page that creates bindings."""

from __future__ import annotations

import html
from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import html as html_response
from sanic.response import json as json_response

from app.api.envelopes import success
from app.api.guards import bearer_token
from app.api.openapi import Described, Header, documented
from app.api.paths import LOGIN_PAGE
from app.api.validation import parse_body, parse_form
from app.auth.login import LoginBinding, LoginBindings, valid_session_uuid
from app.auth.tokens import TokenService
from app.db.wire_types import WireStr
from app.errors import NotVerified

bp = Blueprint("auth")


class VerifyBody(BaseModel):
    enable_grace_period: bool = False
    use_grace_period: bool = False


class TokenState(Described):
    status: Literal["VERIFIED", "EXPIRED", "NOT_VERIFIED"]
    encrypted_session_data: str | None = Field(default=None, description="The replacement token, when EXPIRED.")
    user_email: str | None = Field(default=None, description="Absent when NOT_VERIFIED.")
    user_name: str | None = None


class LoginState(Described):
    status: Literal["PENDING", "AUTHENTICATED"]
    encrypted_session_data: str | None = Field(default=None, description="The new token, when AUTHENTICATED.")
    user_email: str | None = None
    user_name: str | None = None


class LoginPageQuery(Described):
    unique_session_id: WireStr = Field(description="The uuid the extension polls get-session with.")
    is_external_auth_request: WireStr | None = Field(default=None, description="Sent by the extension; ignored.")


class LoginForm(Described):
    unique_session_id: WireStr = Field(description="The uuid the extension polls get-session with.")
    token: WireStr = Field(description="An access token of the user signing in.")


class ServiceIndex(Described):
    service: Literal["adjutant"]
    version: str
    health: str


LOGIN_SESSION = Header("X-Unique-Session-Id", "The uuid of the extension's browser login.", required=False)
HTML = "text/html"


# Reports token state in the body, so it authenticates by itself instead of through the guard.
@bp.post("/end_user/v1/auth/verify-auth-token", ctx_auth="none")
@documented(
    summary="Token state (docs/protocol.md §2.3)",
    description="An unusable token answers 200 with status NOT_VERIFIED, not an error.",
    body=VerifyBody,
    response=TokenState,
    bearer=True,
    tag="auth",
)
async def verify_auth_token(request: Request) -> HTTPResponse:
    body = parse_body(request, VerifyBody)
    tokens: TokenService = request.app.ctx.tokens
    try:
        auth = await tokens.authenticate(bearer_token(request), grace=body.enable_grace_period or body.use_grace_period)
    except NotVerified:
        return success({"status": "NOT_VERIFIED"})
    request.ctx.auth = auth  # the response guard adds new_session_data when rotated
    identity = {"user_email": auth.principal.email, "user_name": auth.principal.name}
    if auth.expired and auth.replacement:
        return success({"status": "EXPIRED", "encrypted_session_data": auth.replacement, **identity})
    return success({"status": "VERIFIED", **identity})


@bp.get("/end_user/v1/auth/get-session", ctx_auth="none")
@documented(
    summary="Poll the browser login (docs/protocol.md §2.2)",
    description="Pending and unknown logins both answer 200 PENDING.",
    response=LoginState,
    headers=[LOGIN_SESSION],
    tag="auth",
)
async def get_session(request: Request) -> HTTPResponse:
    # Pending and unknown uuids both answer 200 PENDING: any non-2xx would abort the client's polling.
    session_uuid = valid_session_uuid(request.headers.get("x-unique-session-id"))
    bindings: LoginBindings = request.app.ctx.login_bindings
    result = await bindings.read(session_uuid) if session_uuid else None
    if result is None:
        return success({"status": "PENDING"})
    return success(
        {
            "status": "AUTHENTICATED",
            "encrypted_session_data": result.token,
            "user_email": result.email,
            "user_name": result.name,
        }
    )


LOGIN_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to Adjutant</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
input[type=password]{{width:100%;padding:.5rem;font-family:monospace}}button{{margin-top:1rem;padding:.5rem 1rem}}
.error{{color:#b00020}}</style></head>
<body><h1>Sign in to Adjutant</h1>{message}
<form method="post" action="{action}">
<input type="hidden" name="unique_session_id" value="{session}">
<label for="token">Access token (ask your administrator, or run <code>adjutant token create</code>)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in to VS Code</button></form></body></html>"""

LOGIN_DONE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed in</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto">
<h1>Signed in as {email}</h1><p>You can close this tab and return to VS Code.</p></body></html>"""


def _login_page(session: str, message: str = "", status: int = 200) -> HTTPResponse:
    page = LOGIN_FORM.format(message=message, action=LOGIN_PAGE, session=html.escape(session, quote=True))
    return html_response(page, status=status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


@bp.get(LOGIN_PAGE, ctx_auth="none", ctx_client="none")
@documented(
    summary="The browser login page",
    description="Without a valid unique_session_id the page answers 400.",
    query=LoginPageQuery,
    rejects_invalid=False,
    response=str,
    media=HTML,
    status=(200, 400),
    tag="auth",
)
async def login_page(request: Request) -> HTTPResponse:
    session = valid_session_uuid(request.args.get("unique_session_id"))
    if session is None:
        return _login_page("", '<p class="error">Open this page from the VS Code extension\'s sign-in button.</p>', 400)
    return _login_page(session)


@bp.post(LOGIN_PAGE, ctx_auth="none", ctx_client="none")
@documented(
    summary="Sign in from the browser login page",
    description="Binds a fresh token to the login; 400 bad link, 401 bad token, 409 link already used.",
    body=LoginForm,
    body_media="application/x-www-form-urlencoded",
    rejects_invalid=False,
    response=str,
    media=HTML,
    status=(200, 400, 401, 409),
    tag="auth",
)
async def login_submit(request: Request) -> HTTPResponse:
    form, _ = parse_form(request)
    session = valid_session_uuid(form.get("unique_session_id"))
    if session is None:
        return _login_page("", '<p class="error">This sign-in link is not valid.</p>', 400)
    tokens: TokenService = request.app.ctx.tokens
    try:
        auth = await tokens.authenticate((form.get("token") or "").strip())
    except NotVerified:
        return _login_page(session, '<p class="error">That token is not valid.</p>', 401)
    # The extension gets a token of its own, so revoking it does not sign the user out elsewhere.
    binding = LoginBinding(session, auth.principal.email, auth.principal.name)
    raw = await tokens.issue_for(auth.principal, name="vscode-login", origin="login", raw=binding.token)
    bindings: LoginBindings = request.app.ctx.login_bindings
    if not await bindings.bind(binding):
        await tokens.revoke_raw(raw)
        return _login_page(session, '<p class="error">This sign-in link was already used.</p>', 409)
    return html_response(
        LOGIN_DONE.format(email=html.escape(auth.principal.email)), headers={"Cache-Control": "no-store"}
    )


@bp.get("/", ctx_auth="none", ctx_client="none")
@documented(summary="Service name and version", response=ServiceIndex, envelope=False, tag="health")
async def index(request: Request) -> HTTPResponse:
    return json_response({"service": "adjutant", "version": request.app.ctx.version, "health": "/health"})
