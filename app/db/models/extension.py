"""What the extension keeps per user: its terminal settings and the URLs its local binary bookmarks."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class UserExtensionSettings(Model):
    """One row per principal; absent until the first update (readers fall back to the defaults)."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    enable_yolo_mode = fields.BooleanField(default=False)
    command_deny_list = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "extension_settings"
        unique_together = (("team", "user"),)


class SavedUrl(Model):
    """A bookmarked web address; soft-deleted rows (`is_deleted`) are invisible to every reader."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    name = fields.CharField(max_length=255)
    url = fields.CharField(max_length=2048)
    last_indexed = fields.DatetimeField(null=True)
    is_deleted = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "saved_urls"
