"""Browser sessions of the web app: a cookie holding a token of its own, and the CSRF token derived from it.

Signing in is a browser login: it exchanges the token a user typed for a fresh one (origin `login`, named
`web-session`), so signing out revokes only the
browser's session and `adjutant token revoke` ends it like any other token. The CSRF token is an HMAC of the
cookie's token: every worker derives the same value with nothing stored, and only a page that could read the
cookie's session (our own, served same-origin) can know it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sanic import Request
from sanic.response import HTTPResponse

from app.auth.principal import Principal
from app.auth.tokens import Authentication, TokenService
from app.errors import NotVerified
from app.runtime.settings import Settings

SESSION_COOKIE = "adj_web"
SIGN_IN_COOKIE = "adj_web_signin"  # double-submit value of the sign-in form (no session exists yet)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
WEB_TOKEN_NAME = "web-session"  # noqa: S105 - a token's display name, not a credential


@dataclass(frozen=True)
class WebSession:
    principal: Principal
    raw_token: str
    replacement: str | None  # a rotated token to put in the cookie

    @property
    def csrf_token(self) -> str:
        return csrf_for(self.replacement or self.raw_token)


def csrf_for(raw_token: str) -> str:
    key = hashlib.sha256(raw_token.encode()).digest()
    digest = hmac.new(key, b"adjutant web csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same_secret(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())  # type: ignore[union-attr]


def secure_cookies(request: Request, settings: Settings) -> bool:
    """Secure cookies over HTTPS, or when the service's public URL is HTTPS (TLS ends at a proxy in front)."""
    return request.scheme == "https" or settings.server.public_url.startswith("https://")


def set_cookie(request: Request, response: HTTPResponse, name: str, value: str, *, max_age: int) -> None:
    response.add_cookie(
        name,
        value,
        path="/app",
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request, request.app.ctx.settings),
        max_age=max_age,
    )


def clear_cookie(request: Request, response: HTTPResponse, name: str) -> None:
    set_cookie(request, response, name, "", max_age=0)


def new_sign_in_nonce() -> str:
    return secrets.token_urlsafe(24)


async def current(request: Request) -> WebSession | None:
    """The signed-in session of this request, or None (no cookie, or its token no longer works)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    tokens: TokenService = request.app.ctx.tokens
    try:
        auth: Authentication = await tokens.authenticate(raw)
    except NotVerified:
        return None
    return WebSession(auth.principal, raw, auth.replacement)


async def start(request: Request, typed_token: str) -> str:
    """Check the token a user typed and issue the browser's own token; NotVerified when it does not work."""
    tokens: TokenService = request.app.ctx.tokens
    auth = await tokens.authenticate(typed_token)
    return await tokens.issue_for(auth.principal, name=WEB_TOKEN_NAME, origin="login")


async def end(request: Request, session: WebSession) -> None:
    tokens: TokenService = request.app.ctx.tokens
    await tokens.revoke_raw(session.replacement or session.raw_token)
