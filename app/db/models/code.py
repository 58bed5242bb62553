"""Indexed code: repositories, their files and searchable chunks (full-text + pgvector)."""

from __future__ import annotations

from tortoise import fields

from app.db.fields import VectorField
from app.db.models.base import Model


class Repository(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    source = fields.TextField()
    # A git URL's user part, sealed by app.runtime.secret_box; `source` is the URL without it.
    source_credentials = fields.TextField(null=True)
    source_kind = fields.CharField(max_length=16)
    status = fields.CharField(max_length=16, default="PENDING")
    embedding_model = fields.CharField(max_length=128, null=True)
    embedding_dim = fields.IntField(null=True)
    file_count = fields.IntField(default=0)
    chunk_count = fields.IntField(default=0)
    error = fields.TextField(null=True)
    progress = fields.JSONField(null=True)
    index_job = fields.CharField(max_length=32, null=True)  # the queued job this row waits for
    created_at = fields.DatetimeField(auto_now_add=True)
    indexed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "repositories"
        unique_together = (("team", "name"),)


class CodeFile(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repository = fields.ForeignKeyField("models.Repository", related_name="files", on_delete=fields.CASCADE)
    path = fields.TextField()
    content_hash = fields.CharField(max_length=64)
    language = fields.CharField(max_length=32, null=True)
    size_bytes = fields.BigIntField()
    indexed_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "files"
        unique_together = (("repository", "path"),)


class Chunk(Model):
    """A searchable piece of a file. The `tsv` column is generated from `search_text` in SQL (not mapped)."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repository = fields.ForeignKeyField("models.Repository", related_name=False, on_delete=fields.CASCADE)
    file = fields.ForeignKeyField("models.CodeFile", related_name="chunks", on_delete=fields.CASCADE)
    path = fields.TextField()
    start_line = fields.IntField()
    end_line = fields.IntField()
    language = fields.CharField(max_length=32, null=True)
    symbol = fields.TextField(null=True)
    symbols = fields.JSONField(default=list)
    text = fields.TextField()
    search_text = fields.TextField()
    content_hash = fields.CharField(max_length=64)
    embedding = VectorField(null=True)
    embedding_dim = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "chunks"
