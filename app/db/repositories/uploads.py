"""Attachments, their bytes, and instance-wide secrets."""

from __future__ import annotations

import secrets
from typing import Any

from tortoise.transactions import in_transaction

from app.db.models import Attachment, AttachmentBlob, InstanceSecret
from app.db.repositories.chat import now


async def instance_secret(name: str) -> str:
    """The named secret, created once; concurrent creators converge on the first value written."""
    existing = await InstanceSecret.get_or_none(name=name)
    if existing is not None:
        return existing.value
    await InstanceSecret.get_or_create(name=name, defaults={"value": secrets.token_hex(32)})
    return (await InstanceSecret.get(name=name)).value


async def create_attachment(**fields: Any) -> Attachment:
    return await Attachment.create(**fields)


async def store_upload(attachment_id: int, content: bytes) -> bool:
    """Single use: only a PENDING_UPLOAD attachment takes bytes. Returns whether this upload applied."""
    async with in_transaction():
        updated = await Attachment.filter(id=attachment_id, status="PENDING_UPLOAD").update(
            status="UPLOADED", size=len(content), uploaded_at=now()
        )
        if not updated:
            return False
        await AttachmentBlob.create(attachment_id=attachment_id, content=content)
    return True


async def read_blob(attachment_id: int) -> bytes | None:
    blob = await AttachmentBlob.get_or_none(attachment_id=attachment_id)
    return bytes(blob.content) if blob is not None else None


async def consume(attachment_id: int) -> bytes | None:
    """Take an uploaded payload exactly once: mark it consumed and delete its bytes."""
    async with in_transaction():
        updated = await Attachment.filter(id=attachment_id, status="UPLOADED").update(
            status="CONSUMED", consumed_at=now()
        )
        if not updated:
            return None
        content = await read_blob(attachment_id)
        await AttachmentBlob.filter(attachment_id=attachment_id).delete()
    return content


async def delete(attachment_id: int) -> None:
    async with in_transaction():
        await Attachment.filter(id=attachment_id).update(status="DELETED", deleted_at=now())
        await AttachmentBlob.filter(attachment_id=attachment_id).delete()


async def get(attachment_id: int) -> Attachment | None:
    return await Attachment.get_or_none(id=attachment_id)
