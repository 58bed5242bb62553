"""Reference-server areas we deliberately do not implement answer 501 with the error envelope
(docs/protocol.md §1.1)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.openapi import undocumented
from app.api.paths import OUT_OF_SCOPE_IDE_REVIEW_ROUTES, OUT_OF_SCOPE_PREFIXES
from app.errors import NotImplementedRoute

bp = Blueprint("out_of_scope")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@undocumented  # one handler behind every out-of-scope path; all answer 501
async def not_implemented(request: Request, **_: str) -> HTTPResponse:
    raise NotImplementedRoute(f"{request.path} is not provided by this server")


for index, prefix in enumerate(OUT_OF_SCOPE_PREFIXES):
    bp.add_route(not_implemented, prefix, methods=METHODS, name=f"oos_{index}", ctx_auth="none", ctx_client="none")
    bp.add_route(
        not_implemented,
        prefix + "/<rest:path>",
        methods=METHODS,
        name=f"oos_{index}_sub",
        ctx_auth="none",
        ctx_client="none",
    )
for index, path in enumerate(OUT_OF_SCOPE_IDE_REVIEW_ROUTES):
    bp.add_route(
        not_implemented, path, methods=METHODS, name=f"oos_ide_review_{index}", ctx_auth="none", ctx_client="none"
    )
