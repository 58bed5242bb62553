"""Team settings: members and their roles (admins change them, app/auth/roles.py), and each repository's
review rules as its `.adjutant.toml` sets them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from app.api.validation import parse_form, validate
from app.auth import roles
from app.db.wire_types import MAX_WIRE_ID
from app.errors import ReviewRulesInvalid
from app.review.rules import load_rules
from app.search import repositories
from app.web.access import page
from app.web.rendering import render

bp = Blueprint("web_team", url_prefix="/app")
RULES_FILE = ".adjutant.toml"
MAX_RULES_BYTES = 256 * 1024


class RoleForm(BaseModel):
    user_id: int = Field(ge=1, le=MAX_WIRE_ID)
    role: Literal["member", "maintainer", "admin"]


def review_rules(source: str) -> dict[str, Any]:
    """A local checkout's review rules: {"rules": ...} or {"error": ...} or {"missing": True}. Indexes of git
    URLs keep no checkout to read, so their rules are only seen by the review of a pull request."""
    path = Path(source) / RULES_FILE
    try:
        if not path.is_file():
            return {"missing": True}
        if path.stat().st_size > MAX_RULES_BYTES:
            return {"error": f"{RULES_FILE} is larger than {MAX_RULES_BYTES} bytes"}
        rules = load_rules(path.read_text(encoding="utf-8"))
    except ReviewRulesInvalid as exc:
        return {"error": exc.detail}
    except (OSError, UnicodeDecodeError):
        return {"error": f"{RULES_FILE} could not be read"}
    return {"rules": rules.model_dump(mode="json", exclude_defaults=True)}


@bp.get("/team")
@page()
async def team(request: Request) -> HTTPResponse:
    principal = request.ctx.web.principal
    rules = [
        {"name": r.name, **(review_rules(r.source) if r.source_kind == "local" else {"remote": True})}
        for r in await repositories.team_repositories(principal.team_id)
    ]
    return render(request, "team.html", title="Team", members=await roles.members(principal), rules=rules)


@bp.post("/team/roles")
@page("admin")
async def set_role(request: Request) -> HTTPResponse:
    fields, _ = parse_form(request)
    form = validate(RoleForm, {k: v for k, v in fields.items() if k in RoleForm.model_fields})
    await roles.set_role(request.ctx.web.principal, form.user_id, form.role)
    return redirect("/app/team")
