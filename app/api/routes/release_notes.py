"""Release notes over HTTP (docs/release-notes.md): ask for a draft of a range of an indexed repository (a job),
list and read notes with their revisions, edit them (a new revision), approve them (maintainer role) and
publish approved ones (maintainer role). Another team's notes, repository or connection answer 404, exactly
like unknown ones."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body, parse_query
from app.db.models import ReleaseNote, ReleaseNoteRevision
from app.db.wire_types import MAX_WIRE_ID, Within
from app.releases.notes import EditRequest, GenerateRequest, ReleaseNotesService
from app.releases.publish import PublishRequest
from app.releases.voice import Voice

bp = Blueprint("release_notes", url_prefix="/v1")
Status = Literal["draft", "approved", "published"]


class NotesQuery(BaseModel):
    repository_id: Annotated[int, Within(1, MAX_WIRE_ID)] | None = None
    status: Status | None = None
    limit: Annotated[int, Within(1, 100)] | None = Field(default=None, description="Page size; 20 by default.")
    before_id: Annotated[int, Within(1, MAX_WIRE_ID)] | None = Field(
        default=None, description="Continue after this id: the next_before_id of the previous page."
    )


class GenerationJob(Described):
    job_id: int = Field(description="Poll GET /v1/jobs/{job_id}; its result names the release_note_id.")
    status: str
    kind: str


class NotesSummary(Described):
    id: int
    repository_id: int
    version: str | None
    from_ref: str | None
    to_ref: str
    from_sha: str | None
    to_sha: str
    path: str | None
    tag_pattern: str | None
    status: Status
    revision: int
    generator: Literal["deterministic", "model"]
    model: str | None
    polish_reason: str | None = Field(description="Why a model's rewrite was not kept, when one was tried.")
    approved_by: int | None
    approved_at: str | None
    published_at: str | None
    publications: list[dict[str, Any]]
    created_at: str
    updated_at: str


class Revision(Described):
    revision: int
    source: Literal["generated", "edit"]
    edited_by: int | None
    note: str | None
    internal_md: str
    external_md: str
    created_at: str


class NotesDetail(NotesSummary):
    internal_md: str
    external_md: str
    facts: dict[str, Any] = Field(description="What the notes were written from: every change, what was left out.")
    revisions: list[Revision]


class NotesPage(Described):
    release_notes: list[NotesSummary]
    next_before_id: int | None


class Publication(Described):
    published: bool = Field(description="false: it was already published there; this is that publication.")
    publication: dict[str, Any]
    release_notes: NotesSummary


def _service(request: Request) -> ReleaseNotesService:
    ctx = request.app.ctx
    return ReleaseNotesService(ctx.jobs, ctx.connections, Voice(ctx.search))


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def summary(note: ReleaseNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "repository_id": note.repository_id,  # type: ignore[attr-defined]
        "version": note.version,
        "from_ref": note.from_ref,
        "to_ref": note.to_ref,
        "from_sha": note.from_sha,
        "to_sha": note.to_sha,
        "path": note.path_scope,
        "tag_pattern": note.tag_pattern,
        "status": note.status,
        "revision": note.revision,
        "generator": note.generator,
        "model": note.model,
        "polish_reason": note.polish_reason,
        "approved_by": note.approved_by_id,  # type: ignore[attr-defined]
        "approved_at": _iso(note.approved_at),
        "published_at": _iso(note.published_at),
        "publications": note.publications,
        "created_at": note.created_at.isoformat(),
        "updated_at": note.updated_at.isoformat(),
    }


def detail(note: ReleaseNote, revisions: list[ReleaseNoteRevision]) -> dict[str, Any]:
    return summary(note) | {
        "internal_md": note.internal_md,
        "external_md": note.external_md,
        "facts": note.facts,
        "revisions": [
            {
                "revision": r.revision,
                "source": r.source,
                "edited_by": r.edited_by_id,  # type: ignore[attr-defined]
                "note": r.note,
                "internal_md": r.internal_md,
                "external_md": r.external_md,
                "created_at": r.created_at.isoformat(),
            }
            for r in revisions
        ],
    }


@bp.post("/repositories/<repository_id>/release-notes", ctx_auth="required", ctx_client="none")
@documented(
    summary="Write release notes for a range of an indexed repository",
    description="Queues a job that reads the range's history and stores the notes as a draft. Without from_ref "
    "the range starts at the last release tag (matching tag_pattern, or the repository's .adjutant.toml). The "
    "repository must be one of the team's indexed repositories.",
    body=GenerateRequest,
    response=GenerationJob,
    status=202,
    errors=[404, 422, 503],
    tag="release-notes",
)
async def request_notes(request: Request, repository_id: str) -> HTTPResponse:
    body = parse_body(request, GenerateRequest)
    job = await _service(request).request(request.ctx.auth.principal, repository_id, body)
    return success({"job_id": job.id, "status": job.status, "kind": job.kind}, status=202)


@bp.get("/release-notes", ctx_auth="required", ctx_client="none")
@documented(summary="The team's release notes, newest first", query=NotesQuery, response=NotesPage, tag="release-notes")
async def list_notes(request: Request) -> HTTPResponse:
    query = parse_query(request, NotesQuery)
    notes, next_before = await _service(request).list(
        request.ctx.auth.principal,
        repository_id=query.repository_id,
        status=query.status,
        limit=query.limit or 20,
        before_id=query.before_id,
    )
    return success({"release_notes": [summary(n) for n in notes], "next_before_id": next_before})


@bp.get("/release-notes/<note_id>", ctx_auth="required", ctx_client="none")
@documented(
    summary="Release notes with their facts and revisions", response=NotesDetail, errors=[404], tag="release-notes"
)
async def get_notes(request: Request, note_id: str) -> HTTPResponse:
    note, revisions = await _service(request).get(request.ctx.auth.principal, note_id)
    return success(detail(note, revisions))


@bp.put("/release-notes/<note_id>", ctx_auth="required", ctx_client="none")
@documented(
    summary="Edit release notes",
    description="The edit becomes a new revision and the notes' text; approved notes go back to draft. "
    "Published notes answer 409.",
    body=EditRequest,
    response=NotesDetail,
    errors=[404, 409, 422],
    tag="release-notes",
)
async def edit_notes(request: Request, note_id: str) -> HTTPResponse:
    body = parse_body(request, EditRequest)
    service = _service(request)
    principal = request.ctx.auth.principal
    await service.edit(principal, note_id, body)
    note, revisions = await service.get(principal, note_id)
    return success(detail(note, revisions))


@bp.post("/release-notes/<note_id>/approve", ctx_auth="required", ctx_client="none")
@documented(
    summary="Approve draft release notes",
    description="Needs the maintainer role. Only a draft is approved (409 otherwise).",
    response=NotesSummary,
    errors=[403, 404, 409],
    tag="release-notes",
)
async def approve_notes(request: Request, note_id: str) -> HTTPResponse:
    note = await _service(request).approve(request.ctx.auth.principal, note_id)
    return success(summary(note))


@bp.post("/release-notes/<note_id>/publish", ctx_auth="required", ctx_client="none")
@documented(
    summary="Publish approved release notes",
    description="Needs the maintainer role; drafts answer 409. Targets: github_release, gitlab_release, "
    "changelog_pr (a CHANGELOG.md pull or merge request) and slack (with a thread notice to the authors of "
    "features that changed no documentation), each through a connection of the team. A place already "
    "published to answers that publication again.",
    body=PublishRequest,
    response=Publication,
    errors=[403, 404, 409, 422, 502],
    tag="release-notes",
)
async def publish_notes(request: Request, note_id: str) -> HTTPResponse:
    body = parse_body(request, PublishRequest)
    note, entry, sent = await _service(request).publish(request.ctx.auth.principal, note_id, body)
    return success({"published": sent, "publication": entry, "release_notes": summary(note)})
