"""A team's connections to the services its workflows use; credentials only ever sealed."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class Integration(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=32, unique=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    created_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    kind = fields.CharField(max_length=20)
    name = fields.CharField(max_length=100)
    base_url = fields.CharField(max_length=500)
    auth_type = fields.CharField(max_length=20)
    credentials_sealed = fields.TextField()
    webhook_secret_sealed = fields.TextField(null=True)
    hook_id = fields.CharField(max_length=40, unique=True)
    options = fields.JSONField(default=dict)
    last_tested_at = fields.DatetimeField(null=True)
    last_test_ok = fields.BooleanField(null=True)
    last_test_detail = fields.CharField(max_length=500, null=True)
    identity_login = fields.CharField(max_length=200, null=True)
    scopes = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "integrations"
        unique_together = (("team", "name"),)
