"""Release notes of a team's repositories (docs/release-notes.md) and their revisions."""

from __future__ import annotations

from tortoise import fields

from app.db.fields import VectorField
from app.db.models.base import Model


class ReleaseNote(Model):
    """One range's notes as they stand now; `revision` names the latest `ReleaseNoteRevision`."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repository = fields.ForeignKeyField("models.Repository", related_name=False, on_delete=fields.CASCADE)
    job_id = fields.BigIntField(null=True, unique=True)  # the job that generated it: a re-run finds this row
    requested_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    from_ref = fields.CharField(max_length=200, null=True)
    to_ref = fields.CharField(max_length=200)
    from_sha = fields.CharField(max_length=64, null=True)
    to_sha = fields.CharField(max_length=64)
    path_scope = fields.CharField(max_length=500, null=True)
    tag_pattern = fields.CharField(max_length=100, null=True)
    version = fields.CharField(max_length=200, null=True)
    internal_md = fields.TextField()
    external_md = fields.TextField()
    facts = fields.JSONField()
    generator = fields.CharField(max_length=20)
    model = fields.CharField(max_length=128, null=True)
    polish_reason = fields.TextField(null=True)
    status = fields.CharField(max_length=16, default="draft")
    revision = fields.IntField(default=1)
    approved_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    approved_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(null=True)
    publications = fields.JSONField(default=list)  # [{target, url, at, ...}] one per place it was published
    embedding = VectorField(null=True)
    embedding_model = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "release_notes"


class ReleaseNoteRevision(Model):
    """The text of one revision: as generated (revision 1) or as a person edited it."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    release_note = fields.ForeignKeyField("models.ReleaseNote", related_name=False, on_delete=fields.CASCADE)
    revision = fields.IntField()
    internal_md = fields.TextField()
    external_md = fields.TextField()
    source = fields.CharField(max_length=16)  # generated | edit
    edited_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    note = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "release_note_revisions"
        unique_together = (("release_note", "revision"),)
