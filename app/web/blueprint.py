"""The web app's blueprints under /app: every area's pages, the vendored static files, and a readable 404 for
any other path below /app."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, redirect

from app.api.openapi import undocumented
from app.errors import NotFound
from app.web.access import finish
from app.web.rendering import STATIC, error_page
from app.web.routes import auth, chat, feedback, integrations, jobs, releases, reviews, search, team, usage

static = Blueprint("web_static", url_prefix="/app")
STATIC_ROOT = STATIC.resolve()
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".md": "text/markdown", "": "text/plain"}

fallback = Blueprint("web_fallback", url_prefix="/app")


@static.get("/static/<name:path>")
@undocumented
async def static_file(request: Request, name: str) -> HTTPResponse:
    """A vendored or own static file; nothing outside app/web/static/ is reachable."""
    path = (STATIC_ROOT / name).resolve()
    if not path.is_relative_to(STATIC_ROOT) or not path.is_file():
        return finish(request, error_page(request, NotFound("there is no such file")))
    response = await file(path, mime_type=CONTENT_TYPES.get(path.suffix, "text/plain") + "; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return finish(request, response)


@fallback.route("/<rest:path>", methods=["GET", "POST"])
@undocumented
async def unknown_page(request: Request, rest: str) -> HTTPResponse:
    if not rest:  # "/app/": the start page lives at "/app"
        return redirect("/app")
    return finish(request, error_page(request, NotFound("there is no such page")))


# Sanic matches fixed paths before parameterised ones, so the fallback only catches what nothing else does.
BLUEPRINTS = (
    static,
    auth.bp,
    chat.bp,
    search.bp,
    releases.bp,
    jobs.bp,
    integrations.bp,
    reviews.bp,
    usage.bp,
    team.bp,
    feedback.bp,
    fallback,
)
