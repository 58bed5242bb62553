"""Signing in and out, and the start page."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from app.api.openapi import undocumented
from app.api.validation import parse_form, validate
from app.db.wire_types import WireStr
from app.errors import NotVerified
from app.web import session as web_session
from app.web.access import SIGN_IN, finish, page
from app.web.rendering import error_page, render

bp = Blueprint("web_auth", url_prefix="/app")


class SignInForm(BaseModel):
    token: WireStr = Field(min_length=1, max_length=200)
    csrf_token: WireStr = Field(default="", max_length=200)
    next: WireStr = Field(default="", max_length=2000)


def safe_next(target: str) -> str:
    """Only a path of this app: anything else would make the sign-in page an open redirect."""
    if target.startswith("/app/") and not target.startswith("/app//") and "\\" not in target:
        return target
    return "/app"


def _sign_in_page(request: Request, *, message: str = "", status: int = 200, next_: str = "") -> HTTPResponse:
    nonce = web_session.new_sign_in_nonce()
    request.ctx.sign_in_nonce = nonce
    response = render(request, "sign_in.html", status=status, title="Sign in", message=message, next=next_)
    web_session.set_cookie(request, response, web_session.SIGN_IN_COOKIE, nonce, max_age=3600)
    return finish(request, response)


@bp.get("/sign-in")
@undocumented
async def sign_in_page(request: Request) -> HTTPResponse:
    if await web_session.current(request) is not None:
        return redirect("/app")
    return _sign_in_page(request, next_=safe_next(request.args.get("next", "")))


@bp.post("/sign-in")
@undocumented
async def sign_in(request: Request) -> HTTPResponse:
    try:
        return await _sign_in(request)
    except Exception as exc:  # noqa: BLE001 - every failure is a readable page, never a traceback
        return finish(request, error_page(request, exc))


async def _sign_in(request: Request) -> HTTPResponse:
    fields, _ = parse_form(request)
    form = validate(SignInForm, fields)
    # The form's hidden value must match the cookie set with it: a page elsewhere cannot sign a browser in.
    if not web_session.same_secret(form.csrf_token, request.cookies.get(web_session.SIGN_IN_COOKIE) or ""):
        return _sign_in_page(request, message="The sign-in form expired; please try again.", status=403)
    try:
        raw = await web_session.start(request, form.token.strip())
    except NotVerified:
        return _sign_in_page(request, message="That token is not valid.", status=401, next_=safe_next(form.next))
    response = redirect(safe_next(form.next))
    max_age = request.app.ctx.settings.auth.token_ttl_days * 86400
    web_session.set_cookie(request, response, web_session.SESSION_COOKIE, raw, max_age=max_age)
    web_session.clear_cookie(request, response, web_session.SIGN_IN_COOKIE)
    return finish(request, response)


@bp.post("/sign-out")
@page()
async def sign_out(request: Request) -> HTTPResponse:
    await web_session.end(request, request.ctx.web)
    request.ctx.web = None  # nothing to rotate into a cookie that is being cleared
    response = redirect(SIGN_IN)
    web_session.clear_cookie(request, response, web_session.SESSION_COOKIE)
    return response


@bp.get("/")
@page()
async def home(request: Request) -> HTTPResponse:
    return render(request, "home.html", title="Start")
