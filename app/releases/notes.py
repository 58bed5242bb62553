"""Stored release notes as a team works with them: ask for a draft (a job), read, edit (each edit a revision),
approve (maintainers), publish (approved notes only, maintainers). Every id is the caller's team's: another
team's notes or repository answer exactly like unknown ones."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator
from tortoise.transactions import in_transaction

from app.auth.principal import Principal
from app.auth.roles import require_role
from app.db.models import JobRecord, ReleaseNote, ReleaseNoteRevision, Repository
from app.db.ownership import get_owned, parse_id
from app.db.repositories import release_notes as store
from app.db.wire_types import WireStr
from app.errors import ReleaseNotesNotFound, ReleaseNotesStateInvalid
from app.integrations.connections import Connections
from app.jobs.queue import JobQueue
from app.releases.extract import normalise_path
from app.releases.git import check_ref, check_tag_pattern
from app.releases.job import KIND, GeneratePayload, ScmSource
from app.releases.publish import Publisher, PublishRequest
from app.releases.voice import Voice

MAX_NOTES_CHARS = 200_000


class GenerateRequest(BaseModel):
    from_ref: WireStr | None = Field(
        default=None, min_length=1, max_length=200, description="Start (excluded); default: the last release tag."
    )
    to_ref: WireStr = Field(default="HEAD", min_length=1, max_length=200, description="End of the range (included).")
    path: WireStr | None = Field(default=None, min_length=1, max_length=500, description="Only commits touching it.")
    tag_pattern: WireStr | None = Field(default=None, min_length=1, max_length=100, description="e.g. api-v*")
    version: WireStr | None = Field(default=None, min_length=1, max_length=200, description="Default: the end's tag.")
    use_model: bool = Field(default=True, description="false: deterministic notes only, no model call.")
    scm: ScmSource | None = Field(default=None, description="Read pull-request labels through this connection.")
    idempotency_key: WireStr | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("from_ref", "to_ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)

    @field_validator("tag_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return None if value is None else check_tag_pattern(value)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return normalise_path(value)


class EditRequest(BaseModel):
    internal_md: WireStr = Field(min_length=1, max_length=MAX_NOTES_CHARS)
    external_md: WireStr = Field(min_length=1, max_length=MAX_NOTES_CHARS)
    note: WireStr | None = Field(default=None, max_length=2000, description="Why it was edited, for the history.")


class ReleaseNotesService:
    def __init__(self, queue: JobQueue, connections: Connections, voice: Voice) -> None:
        self.queue = queue
        self.connections = connections
        self.voice = voice
        self.publisher = Publisher(connections)

    async def request(self, principal: Principal, repository_id: str, body: GenerateRequest) -> JobRecord:
        repo = await get_owned(Repository, repository_id, principal)
        if body.scm is not None:
            await self.connections.connection(principal.team_id, body.scm.connection)  # NOT_FOUND for foreign ones
        payload = GeneratePayload(
            repository_id=repo.id,
            from_ref=body.from_ref,
            to_ref=body.to_ref,
            path=body.path,
            tag_pattern=body.tag_pattern,
            version=body.version,
            use_model=body.use_model,
            scm=body.scm,
            requested_by=principal.user_id,
        )
        key = f"release-notes:{repo.id}:{body.idempotency_key}" if body.idempotency_key else None
        return await self.queue.enqueue(KIND, payload.model_dump(), key, principal.team_id)

    async def list(
        self, principal: Principal, *, repository_id: int | None, status: str | None, limit: int, before_id: int | None
    ) -> tuple[list[ReleaseNote], int | None]:
        return await store.team_notes(
            principal.team_id, repository_id=repository_id, status=status, limit=limit, before_id=before_id
        )

    async def get(self, principal: Principal, note_id: str) -> tuple[ReleaseNote, list[ReleaseNoteRevision]]:
        note = await get_owned(ReleaseNote, note_id, principal, not_found=ReleaseNotesNotFound)
        return note, await store.revisions(principal.team_id, note.id)

    async def edit(self, principal: Principal, note_id: str, body: EditRequest) -> ReleaseNote:
        row_id = _id(note_id)
        async with in_transaction():
            note = await store.locked(principal.team_id, row_id)
            if note is None:
                raise ReleaseNotesNotFound("ReleaseNote not found")
            if note.status == "published":
                raise ReleaseNotesStateInvalid("published notes are not edited; generate new ones for a correction")
            return await store.add_revision(
                note,
                internal_md=body.internal_md,
                external_md=body.external_md,
                user_id=principal.user_id,
                note_text=body.note,
            )

    async def approve(self, principal: Principal, note_id: str) -> ReleaseNote:
        note = await get_owned(ReleaseNote, note_id, principal, not_found=ReleaseNotesNotFound)
        await require_role(principal, "maintainer", action="approving release notes")
        if note.status != "draft":
            raise ReleaseNotesStateInvalid(f"the notes are {note.status}; only a draft is approved")
        embedded = await self.voice.embed(note.external_md)
        vector, model = embedded if embedded is not None else (None, None)
        if not await store.approve(
            note.team_id, note.id, user_id=principal.user_id, embedding=vector, embedding_model=model
        ):
            raise ReleaseNotesStateInvalid("the notes changed while being approved; read them again")
        return await get_owned(ReleaseNote, note.id, principal, not_found=ReleaseNotesNotFound)

    async def publish(
        self, principal: Principal, note_id: str, body: PublishRequest
    ) -> tuple[ReleaseNote, dict[str, Any], bool]:
        note = await get_owned(ReleaseNote, note_id, principal, not_found=ReleaseNotesNotFound)
        await require_role(principal, "maintainer", action="publishing release notes")
        if note.status == "draft":
            raise ReleaseNotesStateInvalid("only approved notes are published; approve them first")
        entry, sent = await self.publisher.publish(note, body)
        if sent:
            updated = await store.record_publication(note.team_id, note.id, entry)
            note = updated or note
        return note, entry, sent


def _id(raw: str) -> int:
    row_id = parse_id(raw)
    if row_id is None:
        raise ReleaseNotesNotFound("ReleaseNote not found")
    return row_id
