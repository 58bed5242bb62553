"""Background jobs: one record per job (its status, attempts and outcome) and the teams' schedules."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class JobRecord(Model):
    """A job. Its transport carries only the id; `attempts` counts starts, `lease_until` bounds how long the
    worker running it is trusted, `published_at` is when it was last handed to the transport."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=100)
    payload = fields.JSONField(default=dict)
    idempotency_key = fields.CharField(max_length=200)
    status = fields.CharField(max_length=16, default="QUEUED")
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField()
    last_error = fields.TextField(null=True)
    result = fields.JSONField(null=True)
    worker = fields.CharField(max_length=100, null=True)
    lease_until = fields.DatetimeField(null=True)
    run_after = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(auto_now_add=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "jobs"
        unique_together = (("team", "idempotency_key"),)


class Schedule(Model):
    """A team's recurring job: a cron expression read in an IANA time zone; `next_run_at` is the next tick."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    name = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=100)
    payload = fields.JSONField(default=dict)
    cron = fields.CharField(max_length=200)
    time_zone = fields.CharField(max_length=64)
    next_run_at = fields.DatetimeField()
    last_run_at = fields.DatetimeField(null=True)
    last_job = fields.ForeignKeyField("models.JobRecord", related_name=False, null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "schedules"
        unique_together = (("team", "name"),)
