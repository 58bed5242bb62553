"""Inline-edit jobs (docs/protocol.md §4.4): one model turn each, polled by the client until it settles.

Jobs that answer each other's tool requests form one conversation, rooted at its first job. Each job keeps
the messages it added to that conversation, so any worker can rebuild the conversation and continue it.
"""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class InlineEditJob(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    session = fields.ForeignKeyField("models.Session", related_name=False, on_delete=fields.CASCADE)
    root_job = fields.ForeignKeyField("models.InlineEditJob", related_name=False, null=True, on_delete=fields.CASCADE)
    continues_job = fields.ForeignKeyField(
        "models.InlineEditJob", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    status = fields.CharField(max_length=16, default="PENDING")
    model = fields.CharField(max_length=128)
    query = fields.TextField()
    messages = fields.JSONField(default=list)
    step_count = fields.IntField(default=0)
    response = fields.JSONField(null=True)
    tool_use_id = fields.CharField(max_length=64, null=True)
    tool_name = fields.CharField(max_length=128, null=True)
    failure = fields.TextField(null=True)
    deadline_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inline_edit_jobs"
