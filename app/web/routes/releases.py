"""Release notes: the team's drafts, one note with its revisions and the diff between the deterministic and the
polished text, edit, approve and publish (app/releases/notes.py does the checks, roles included)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from app.api.validation import parse_form, parse_query, validate
from app.db.wire_types import MAX_WIRE_ID, WireStr
from app.releases.changes import ReleaseFacts
from app.releases.notes import EditRequest, GenerateRequest, ReleaseNotesService
from app.releases.publish import PublishRequest
from app.releases.render import render as render_notes
from app.releases.voice import Voice
from app.search import repositories
from app.web.access import page
from app.web.diff import line_diff
from app.web.rendering import render

bp = Blueprint("web_releases", url_prefix="/app")
PAGE_SIZE = 20


class NotesListQuery(BaseModel):
    status: Literal["draft", "approved", "published"] | None = None
    before_id: int | None = Field(default=None, ge=1, le=MAX_WIRE_ID)


class GenerateForm(BaseModel):
    repository_id: WireStr = Field(max_length=20)
    from_ref: WireStr | None = Field(default=None, max_length=200)
    to_ref: WireStr = Field(default="HEAD", max_length=200)
    use_model: bool = False


def service(request: Request) -> ReleaseNotesService:
    ctx = request.app.ctx
    return ReleaseNotesService(ctx.jobs, ctx.connections, Voice(ctx.search))


def form_fields(request: Request) -> dict[str, str]:
    fields, _ = parse_form(request)
    fields.pop("csrf_token", None)
    return {key: value for key, value in fields.items() if value != ""}


def deterministic_text(facts: dict[str, object]) -> str | None:
    """The external notes as written without a model, from the facts stored with them."""
    try:
        return render_notes(ReleaseFacts.from_json(facts), "external")  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):  # facts of an older shape: no diff rather than a broken page
        return None


@bp.get("/release-notes")
@page()
async def notes_list(request: Request) -> HTTPResponse:
    query = parse_query(request, NotesListQuery)
    principal = request.ctx.web.principal
    notes, next_before = await service(request).list(
        principal, repository_id=None, status=query.status, limit=PAGE_SIZE, before_id=query.before_id
    )
    repos = await repositories.team_repositories(principal.team_id)
    names = {r.id: r.name for r in repos}
    return render(
        request,
        "release_notes.html",
        title="Release notes",
        notes=notes,
        names=names,
        repositories=repos,
        status_filter=query.status,
        next_before=next_before,
    )


@bp.post("/release-notes")
@page()
async def generate(request: Request) -> HTTPResponse:
    form = validate(GenerateForm, form_fields(request))
    body = validate(GenerateRequest, {"from_ref": form.from_ref, "to_ref": form.to_ref, "use_model": form.use_model})
    job = await service(request).request(request.ctx.web.principal, form.repository_id, body)
    return redirect(f"/app/jobs/{job.id}")


async def _detail(request: Request, note_id: str, *, message: str = "", status: int = 200) -> HTTPResponse:
    note, revisions = await service(request).get(request.ctx.web.principal, note_id)
    deterministic = deterministic_text(note.facts)
    diff = line_diff(deterministic, note.external_md) if deterministic is not None else None
    return render(
        request,
        "release_note.html",
        status=status,
        title=f"Release notes {note.version or note.to_ref}",
        note=note,
        revisions=revisions,
        diff=diff,
        polished=deterministic is not None and deterministic != note.external_md,
        message=message,
    )


@bp.get("/release-notes/<note_id>")
@page()
async def notes_detail(request: Request, note_id: str) -> HTTPResponse:
    return await _detail(request, note_id)


@bp.post("/release-notes/<note_id>/edit")
@page()
async def edit(request: Request, note_id: str) -> HTTPResponse:
    body = validate(EditRequest, form_fields(request))
    await service(request).edit(request.ctx.web.principal, note_id, body)
    return redirect(f"/app/release-notes/{note_id}")


@bp.post("/release-notes/<note_id>/approve")
@page()
async def approve(request: Request, note_id: str) -> HTTPResponse:
    await service(request).approve(request.ctx.web.principal, note_id)
    return redirect(f"/app/release-notes/{note_id}")


@bp.post("/release-notes/<note_id>/publish")
@page()
async def publish(request: Request, note_id: str) -> HTTPResponse:
    body = validate(PublishRequest, form_fields(request))
    await service(request).publish(request.ctx.web.principal, note_id, body)
    return redirect(f"/app/release-notes/{note_id}")
