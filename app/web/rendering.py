"""Rendering pages: one Jinja2 environment (autoescape on for every template), the security headers every
page carries, and errors as readable pages."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sanic import Request
from sanic.response import HTTPResponse
from sanic.response import html as html_response

from app.api.errors import report_to_sentry, to_adjutant_error
from app.errors import AdjutantError
from app.wire_errors import is_unexpected

log = logging.getLogger("adjutant.web")
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# No inline script or style anywhere: a value that escaped escaping still could not run.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _when(moment: datetime | str | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, str):
        return moment
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = _when


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTTPResponse:
    """A page (or, for an htmx request, whatever fragment `template` is) with the session's context."""
    session = getattr(request.ctx, "web", None)
    context = {
        "session": session,
        "principal": session.principal if session else None,
        "role": getattr(request.ctx, "web_role", None),
        "csrf_token": session.csrf_token if session else getattr(request.ctx, "sign_in_nonce", ""),
        "path": request.path,
        "request_id": getattr(request.ctx, "request_id", ""),
        **values,
    }
    body = environment.get_template(template).render(**context)
    return html_response(body, status=status, headers={"Cache-Control": "no-store"})


def error_page(request: Request, exception: BaseException) -> HTTPResponse:
    """The error as a page: its status and its client-facing text, never a traceback."""
    error: AdjutantError = to_adjutant_error(exception)
    if is_unexpected(error, exception):
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
        report_to_sentry(exception)
        message = "Something went wrong on our side. The error was logged; try again in a moment."
    else:
        message = "; ".join(d["message"] for d in error.details()) or error.detail
    template = "fragments/error.html" if request.headers.get("hx-request") else "error.html"
    return render(request, template, status=error.http_status, title=_title(error.http_status), message=message)


def _title(status: int) -> str:
    return {
        400: "Bad request",
        401: "Sign-in needed",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        422: "Not valid",
        429: "Too many requests",
        503: "Unavailable",
    }.get(status, "Error")
