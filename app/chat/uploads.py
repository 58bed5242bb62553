"""Chat attachments (docs/protocol.md §4.3): presigned single-use uploads bound to owner, size, type and expiry;
signed expiring downloads; images for multimodal models; large chat payloads consumed once (R4).

Uploads go to `POST /uploads` on this server with signed form fields (the shape of an S3 POST policy), so
the reference client's upload code works unchanged; bytes are stored in PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from app.db.models import Attachment
from app.db.ownership import Owner, get_owned, parse_id
from app.db.repositories import uploads as repo
from app.db.wire_types import decode_json
from app.errors import AttachmentNotFound, InvalidRequest, NotVerified
from app.llm.types import ImagePart
from app.runtime.settings import Settings

UPLOAD_PATH = "/uploads"
UPLOAD_TTL_S = 10 * 60  # ≤ 10 min (§4.3)
DOWNLOAD_TTL_S = 30 * 60  # ≥ 10 min
PAYLOAD_TYPE = "application/json"


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison; compare_digest raises TypeError for str with non-ASCII characters."""
    return given.isascii() and hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class UploadGrant:
    attachment_id: int
    upload_url: str
    fields: dict[str, str]
    download_url: str


class Uploads:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key: bytes | None = None
        self.base = settings.server.base_url()

    async def ensure_key(self) -> None:
        """The signing key every worker shares, read from the database on first use (not at start-up, so a
        database outage does not keep the service from starting and reporting itself unhealthy)."""
        if self.key is None:
            self.key = (await repo.instance_secret("upload-signing")).encode()

    def _sign(self, *parts: Any) -> str:
        if self.key is None:
            raise RuntimeError("Uploads.ensure_key() was not awaited")
        return hmac.new(self.key, ":".join(str(p) for p in parts).encode(), hashlib.sha256).hexdigest()

    # --- presign ---------------------------------------------------------------------------------------

    async def presign_upload(
        self, owner: Owner, *, file_name: str, file_size: int, file_type: str, folder: str
    ) -> UploadGrant:
        await self.ensure_key()
        limits = self.settings.client_config.vscode.CHAT_IMAGE_UPLOAD
        if folder == "image":
            if file_type not in limits.SUPPORTED_MIMETYPES or file_type == PAYLOAD_TYPE:
                raise InvalidRequest(
                    f"images must be one of {', '.join(t for t in limits.SUPPORTED_MIMETYPES if t != PAYLOAD_TYPE)}"
                )
        elif folder == "payload":
            if file_type != PAYLOAD_TYPE:
                raise InvalidRequest("payload uploads must be application/json")
        else:
            raise InvalidRequest("folder must be image or payload")
        if not 1 <= file_size <= limits.MAX_BYTES:
            raise InvalidRequest(f"file_size must be between 1 and {limits.MAX_BYTES} bytes")
        attachment = await repo.create_attachment(
            team_id=owner.team_id,
            user_id=owner.user_id,
            folder=folder,
            file_name=file_name[:255],
            file_type=file_type,
            max_size=file_size,
            storage_key=f"{folder}/{owner.team_id}/{int(time.time() * 1000)}",
        )
        expires = int(time.time()) + UPLOAD_TTL_S
        fields = {
            "attachment_id": str(attachment.id),
            "owner": str(owner.user_id),
            "max_size": str(file_size),
            "Content-Type": file_type,
            "expires": str(expires),
            "signature": self._sign("put", attachment.id, owner.user_id, file_size, file_type, expires),
        }
        return UploadGrant(attachment.id, self.base + UPLOAD_PATH, fields, self.download_url(attachment))

    def download_url(self, attachment: Attachment) -> str:
        expires = int(time.time()) + DOWNLOAD_TTL_S
        signature = self._sign("get", attachment.id, attachment.user_id, expires)
        return f"{self.base}{UPLOAD_PATH}/{attachment.id}?{urlencode({'expires': expires, 'signature': signature})}"

    # --- the upload target and downloads (authorised by signatures only) ------------------------------

    async def accept_upload(self, fields: dict[str, str], content: bytes) -> None:
        await self.ensure_key()
        try:
            attachment_id, owner, max_size = int(fields["attachment_id"]), int(fields["owner"]), int(fields["max_size"])
            file_type, expires, signature = fields["Content-Type"], int(fields["expires"]), fields["signature"]
        except (KeyError, ValueError):
            raise NotVerified("the upload form is incomplete") from None
        expected = self._sign("put", attachment_id, owner, max_size, file_type, expires)
        if not signature_matches(expected, signature) or expires < time.time():
            raise NotVerified("the upload signature is invalid or expired")
        if len(content) > max_size:
            raise InvalidRequest(f"the file is larger than the {max_size} bytes announced")
        if not await repo.store_upload(attachment_id, content):
            raise AttachmentNotFound("this upload was already used")

    async def download(self, attachment_id: int, expires: int, signature: str) -> tuple[Attachment, bytes]:
        await self.ensure_key()
        row_id = parse_id(attachment_id)  # a path segment of any length: beyond BIGINT it would fail in asyncpg
        attachment = await repo.get(row_id) if row_id is not None else None
        if attachment is None or attachment.status in ("DELETED", "CONSUMED"):
            raise AttachmentNotFound("no such file")
        expected = self._sign("get", attachment.id, attachment.user_id, expires)
        if not signature_matches(expected, signature) or expires < time.time():
            raise AttachmentNotFound("no such file")
        content = await repo.read_blob(attachment.id)
        if content is None:
            raise AttachmentNotFound("no such file")
        return attachment, content

    # --- owned operations -------------------------------------------------------------------------------

    async def owned(
        self, owner: Owner, raw_id: Any, *, folder: str | None = None, uploaded: bool = False
    ) -> Attachment:
        await self.ensure_key()
        attachment = await get_owned(Attachment, raw_id, owner, not_found=AttachmentNotFound)
        if (
            attachment.status in ("DELETED", "CONSUMED")
            or (folder and attachment.folder != folder)
            or (uploaded and attachment.status != "UPLOADED")
        ):
            raise AttachmentNotFound("Attachment not found")
        return attachment

    async def delete(self, owner: Owner, raw_id: Any) -> None:
        attachment = await self.owned(owner, raw_id)
        await repo.delete(attachment.id)

    async def unpack_payload(self, owner: Owner, raw_id: Any) -> Any:
        """R4: the uploaded JSON request, consumed exactly once."""
        attachment = await self.owned(owner, raw_id, folder="payload", uploaded=True)
        content = await repo.consume(attachment.id)
        if content is None:
            raise AttachmentNotFound("Attachment not found")
        return decode_json(content, what="the payload attachment")

    async def images(self, owner: Owner, raw_ids: list[int]) -> list[ImagePart]:
        """Owned, uploaded images for a multimodal model; any other id is ATTACHMENT_NOT_FOUND."""
        parts = []
        for raw_id in raw_ids:
            attachment = await self.owned(owner, raw_id, folder="image", uploaded=True)
            content = await repo.read_blob(attachment.id)
            if content is None:
                raise AttachmentNotFound("Attachment not found")
            parts.append(ImagePart(media_type=attachment.file_type, data=base64.b64encode(content).decode()))
        return parts
