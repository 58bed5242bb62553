"""Uploaded objects: chat images and large chat payloads (docs/protocol.md §4.3)."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class Attachment(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    folder = fields.CharField(max_length=16)
    file_name = fields.CharField(max_length=255)
    file_type = fields.CharField(max_length=128)
    max_size = fields.BigIntField()
    size = fields.BigIntField(null=True)
    status = fields.CharField(max_length=20, default="PENDING_UPLOAD")
    storage_key = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    uploaded_at = fields.DatetimeField(null=True)
    consumed_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "attachments"


class AttachmentBlob(Model):
    attachment = fields.OneToOneField(
        "models.Attachment", related_name="blob", on_delete=fields.CASCADE, primary_key=True
    )
    content = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "attachment_blobs"


class InstanceSecret(Model):
    name = fields.CharField(max_length=64, primary_key=True)
    value = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "instance_secrets"
