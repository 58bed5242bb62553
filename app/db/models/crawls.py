"""Repository crawls: one row per crawl of a connection, one per repository it listed."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class Crawl(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    connection = fields.ForeignKeyField("models.Integration", related_name=False, on_delete=fields.CASCADE)
    requested_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    scope = fields.JSONField()
    filters = fields.JSONField(default=dict)
    status = fields.CharField(max_length=16, default="QUEUED")
    job_id = fields.BigIntField(null=True)
    pauses = fields.IntField(default=0)  # times a rate limit paused it
    error = fields.TextField(null=True)
    resume_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "crawls"


class CrawlRepository(Model):
    """What became of one listed repository; `last_indexed_commit` is set once its index job succeeded."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    crawl = fields.ForeignKeyField("models.Crawl", related_name=False, on_delete=fields.CASCADE)
    full_name = fields.CharField(max_length=500)
    state = fields.CharField(max_length=16)
    skipped_reason = fields.TextField(null=True)
    head_commit = fields.CharField(max_length=64, null=True)
    repository = fields.ForeignKeyField("models.Repository", related_name=False, null=True, on_delete=fields.SET_NULL)
    index_job = fields.CharField(max_length=32, null=True)
    last_indexed_commit = fields.CharField(max_length=64, null=True)
    error = fields.TextField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "crawl_repositories"
        unique_together = (("crawl", "full_name"),)
