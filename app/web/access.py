"""Who may see a page: every page needs a signed-in session, every change its CSRF token, some a team role.

`page(...)` wraps a handler: it resolves the session from the cookie (or sends the browser to sign in), checks
the CSRF token on anything but GET/HEAD, checks the role a page or action needs, and turns any error into a
readable page. Ownership is the services' job: they answer another team's ids exactly like unknown ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, redirect

from app.api.openapi import undocumented
from app.auth.roles import Role, includes, role_of
from app.errors import Forbidden
from app.web import session as web_session
from app.web.rendering import SECURITY_HEADERS, error_page

SAFE_METHODS = frozenset({"GET", "HEAD"})
SIGN_IN = "/app/sign-in"
Handler = Callable[..., Awaitable[HTTPResponse]]


class CsrfRefused(Forbidden):
    """A state-changing request without the session's CSRF token (a forged or stale form)."""


def sent_csrf(request: Request) -> str | None:
    header = request.headers.get(web_session.CSRF_HEADER)
    if header:
        return header
    if request.content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        values = (request.form or {}).get(web_session.CSRF_FIELD)
        return values if isinstance(values, str) else None
    return None


def page(minimum: Role | None = None) -> Callable[[Handler], Handler]:
    """Guard a web handler; `minimum` is the team role the whole page needs (None: any member)."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            try:
                current = await web_session.current(request)
                if current is None:
                    return _to_sign_in(request)
                request.ctx.web = current
                if request.method not in SAFE_METHODS and not web_session.same_secret(
                    sent_csrf(request), current.csrf_token
                ):
                    raise CsrfRefused("this form has expired or did not come from this site; reload the page")
                request.ctx.web_role = await role_of(current.principal)
                if minimum is not None and not includes(request.ctx.web_role, minimum):
                    raise Forbidden(f"this page needs the {minimum} role; yours is {request.ctx.web_role or 'none'}")
                response = await handler(request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure is a readable page, never a traceback
                response = error_page(request, exc)
            return finish(request, response)

        return undocumented(guarded)  # pages, not API: /docs describes the API only

    return wrap


def finish(request: Request, response: HTTPResponse | None) -> HTTPResponse:
    """Security headers, and the rotated token in the cookie when the session's token was rotated."""
    if response is None:  # a streamed answer has already gone out with its headers
        return response  # type: ignore[return-value]
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    current = getattr(request.ctx, "web", None)
    if current is not None and current.replacement:
        web_session.set_cookie(
            request,
            response,
            web_session.SESSION_COOKIE,
            current.replacement,
            max_age=request.app.ctx.settings.auth.token_ttl_days * 86400,
        )
    return response


def _to_sign_in(request: Request) -> HTTPResponse:
    if request.headers.get("hx-request"):
        # htmx follows a redirect inside the fragment; HX-Redirect makes it load the sign-in page whole.
        return finish(request, HTTPResponse(status=401, headers={"HX-Redirect": SIGN_IN}))
    target = SIGN_IN if request.method not in SAFE_METHODS else f"{SIGN_IN}?next={request.path}"
    return finish(request, redirect(target))
