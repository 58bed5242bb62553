"""Release notes and their revisions. Every function is scoped to a team: another team's notes are not found."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db.models import ReleaseNote, ReleaseNoteRevision

VERSION_TEXT = 200


async def by_job(job_id: int) -> ReleaseNote | None:
    return await ReleaseNote.get_or_none(job_id=job_id)


async def create(*, team_id: int, job_id: int | None, **fields: Any) -> tuple[ReleaseNote, bool]:
    """A draft and its first revision; for a job that already wrote one, that one (and False)."""
    if job_id is not None:
        found = await by_job(job_id)
        if found is not None:
            return found, False
    try:
        async with in_transaction():
            note = await ReleaseNote.create(team_id=team_id, job_id=job_id, status="draft", revision=1, **fields)
            await ReleaseNoteRevision.create(
                team_id=team_id,
                release_note_id=note.id,
                revision=1,
                internal_md=note.internal_md,
                external_md=note.external_md,
                source="generated",
                edited_by_id=None,
                note=note.polish_reason,
            )
    except IntegrityError:  # a second delivery of the same job got there first
        found = await by_job(job_id) if job_id is not None else None
        if found is None:
            raise
        return found, False
    return note, True


async def team_notes(
    team_id: int, *, repository_id: int | None, status: str | None, limit: int, before_id: int | None
) -> tuple[list[ReleaseNote], int | None]:
    query = ReleaseNote.filter(team_id=team_id)
    if repository_id is not None:
        query = query.filter(repository_id=repository_id)
    if status is not None:
        query = query.filter(status=status)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    rows = await query.order_by("-id").limit(limit + 1)
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


async def revisions(team_id: int, note_id: int) -> list[ReleaseNoteRevision]:
    return await ReleaseNoteRevision.filter(team_id=team_id, release_note_id=note_id).order_by("revision")


async def locked(team_id: int, note_id: int) -> ReleaseNote | None:
    return await ReleaseNote.filter(team_id=team_id, id=note_id).select_for_update().first()


async def add_revision(
    note: ReleaseNote, *, internal_md: str, external_md: str, user_id: int, note_text: str | None
) -> ReleaseNote:
    """Inside the caller's transaction, on a locked row: the edit becomes the next revision and the current text,
    and approved notes go back to draft (what was approved is not what they say now)."""
    note.revision += 1
    await ReleaseNoteRevision.create(
        team_id=note.team_id,
        release_note_id=note.id,
        revision=note.revision,
        internal_md=internal_md,
        external_md=external_md,
        source="edit",
        edited_by_id=user_id,
        note=note_text,
    )
    note.internal_md, note.external_md = internal_md, external_md
    note.status, note.approved_by_id, note.approved_at = "draft", None, None
    note.embedding, note.embedding_model = None, None
    await note.save()
    return note


async def approve(
    team_id: int, note_id: int, *, user_id: int, embedding: list[float] | None, embedding_model: str | None
) -> bool:
    """Approve a draft (only a draft: False otherwise, nothing changed)."""
    changed = await ReleaseNote.filter(team_id=team_id, id=note_id, status="draft").update(
        status="approved",
        approved_by_id=user_id,
        approved_at=datetime.now(UTC),
        embedding=embedding,
        embedding_model=embedding_model if embedding is not None else None,
        updated_at=datetime.now(UTC),
    )
    return changed > 0


async def record_publication(team_id: int, note_id: int, entry: dict[str, Any]) -> ReleaseNote | None:
    """Append where it was published; the first publication marks the notes published."""
    async with in_transaction():
        note = await locked(team_id, note_id)
        if note is None:
            return None
        now = datetime.now(UTC)
        note.publications = [*note.publications, entry]
        if note.status != "published":
            note.status, note.published_at = "published", now
        await note.save()
        return note


async def voice_examples(
    team_id: int, repository_id: int, vector: list[float], model: str, *, exclude_id: int | None, limit: int
) -> list[str]:
    """External text of the repository's approved or published notes nearest to `vector` (same embedding model)."""
    if limit <= 0:
        return []
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT external_md FROM release_notes WHERE team_id = $1 AND repository_id = $2 AND embedding_model = $3 "
        "AND embedding IS NOT NULL AND status IN ('approved', 'published') AND vector_dims(embedding) = $4 "
        "AND id <> $5 ORDER BY embedding <=> $6::vector LIMIT $7",
        [team_id, repository_id, model, len(vector), exclude_id or 0, vector, limit],
    )
    return [row["external_md"] for row in rows]
