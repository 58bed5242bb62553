"""The knowledge store: sources of non-code knowledge, their documents (a page, an answer with its question),
searchable chunks (full-text + pgvector) and import runs."""

from __future__ import annotations

from tortoise import fields

from app.db.fields import VectorField
from app.db.models.base import Model


class KnowledgeSource(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=16)
    name = fields.CharField(max_length=200)
    config = fields.JSONField(default=dict)
    document_count = fields.IntField(default=0)
    chunk_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_imported_at = fields.DatetimeField(null=True)

    class Meta:
        table = "knowledge_sources"
        unique_together = (("team", "name"),)


class KnowledgeDocument(Model):
    """One imported thing, unique per team, source and its own id; `content_hash` decides re-embedding."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    source = fields.ForeignKeyField("models.KnowledgeSource", related_name=False, on_delete=fields.CASCADE)
    external_id = fields.CharField(max_length=500)
    kind = fields.CharField(max_length=8)
    title = fields.TextField()
    url = fields.TextField(null=True)
    meta = fields.JSONField(default=dict)
    content_hash = fields.CharField(max_length=64)
    embedding_model = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "knowledge_documents"
        unique_together = (("team", "source", "external_id"),)


class KnowledgeChunk(Model):
    """A searchable piece of a document. The `tsv` column is generated from `search_text` in SQL (not mapped)."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    source = fields.ForeignKeyField("models.KnowledgeSource", related_name=False, on_delete=fields.CASCADE)
    document = fields.ForeignKeyField("models.KnowledgeDocument", related_name=False, on_delete=fields.CASCADE)
    position = fields.IntField()
    kind = fields.CharField(max_length=8)
    language = fields.CharField(max_length=32, null=True)
    section = fields.TextField(null=True)
    text = fields.TextField()
    search_text = fields.TextField()
    content_hash = fields.CharField(max_length=64)
    embedding = VectorField(null=True)
    embedding_dim = fields.IntField(null=True)
    embedding_model = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "knowledge_chunks"
        unique_together = (("document", "position"),)


class KnowledgeImport(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    source = fields.ForeignKeyField("models.KnowledgeSource", related_name=False, on_delete=fields.CASCADE)
    requested_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    job_id = fields.BigIntField(null=True)
    status = fields.CharField(max_length=16, default="QUEUED")
    progress = fields.JSONField(default=dict)
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "knowledge_imports"
