"""File uploads (docs/protocol.md §4.3): presign routes for the client, and the signed upload/download target."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import raw as raw_response

from app.api.envelopes import success
from app.api.openapi import Described, documented
from app.api.validation import parse_body, parse_form
from app.chat.uploads import UPLOAD_PATH, Uploads
from app.db.wire_types import Int64, WireInt, WireStr
from app.errors import InvalidRequest

bp = Blueprint("uploads")


class PresignBody(BaseModel):
    file_name: WireStr = Field(min_length=1, max_length=255)
    file_size: Int64
    file_type: WireStr = Field(min_length=1, max_length=128)
    folder: Literal["image", "payload"]


class AttachmentBody(BaseModel):
    attachment_id: WireInt  # beyond the id range: not found, like a foreign id (docs/protocol.md §0)


class UploadTarget(Described):
    url: str
    fields: dict[str, str] = Field(description="Form fields to send before the file, as they are.")


class UploadGrantInfo(Described):
    upload_url: UploadTarget
    download_url: str
    attachment_id: int


class DownloadLink(Described):
    download_url: str
    file_name: str


class UploadForm(Described):
    """Every field of upload_url.fields, then the file last."""

    model_config = ConfigDict(extra="allow")

    file: bytes = Field(description="The file content.")


class DownloadQuery(Described):
    expires: Int64
    signature: WireStr


def uploads(request: Request) -> Uploads:
    return request.app.ctx.uploads


@bp.post("/end_user/v1/file-upload/get-presigned-post-url")
@documented(
    summary="Create an attachment and its signed upload form (docs/protocol.md §4.3)",
    body=PresignBody,
    response=UploadGrantInfo,
    tag="uploads",
)
async def presign_post(request: Request) -> HTTPResponse:
    body = parse_body(request, PresignBody)
    grant = await uploads(request).presign_upload(
        request.ctx.auth.principal,
        file_name=body.file_name,
        file_size=body.file_size,
        file_type=body.file_type,
        folder=body.folder,
    )
    return success(
        {
            "upload_url": {"url": grant.upload_url, "fields": grant.fields},
            "download_url": grant.download_url,
            "attachment_id": grant.attachment_id,
        }
    )


@bp.post("/end_user/v1/file-upload/get-presigned-get-url")
@documented(
    summary="A fresh signed download URL", body=AttachmentBody, response=DownloadLink, errors=[404], tag="uploads"
)
async def presign_get(request: Request) -> HTTPResponse:
    body = parse_body(request, AttachmentBody)
    attachment = await uploads(request).owned(request.ctx.auth.principal, body.attachment_id)
    return success({"download_url": uploads(request).download_url(attachment), "file_name": attachment.file_name})


@bp.post("/end_user/v1/file-upload/delete-file")
@documented(summary="Delete an attachment", body=AttachmentBody, response=None, errors=[404], tag="uploads")
async def delete_file(request: Request) -> HTTPResponse:
    body = parse_body(request, AttachmentBody)
    await uploads(request).delete(request.ctx.auth.principal, body.attachment_id)
    return success(None)


# The upload target is exempt from every header rule: only its signed form fields authorise it.
@bp.post(UPLOAD_PATH, ctx_auth="none", ctx_client="none")
@documented(
    summary="The signed upload target",
    description="Authorised only by the signed form fields (400 NOT_VERIFIED when they are invalid or expired); "
    "single-use (404 once used); 422 when the file is larger than announced.",
    body=UploadForm,
    body_media="multipart/form-data",
    response=None,
    envelope=False,
    status=204,
    errors=[400, 404],
    tag="uploads",
)
async def upload(request: Request) -> HTTPResponse:
    fields, form_files = parse_form(request)
    files = form_files.get("file") if form_files else None
    if not files:
        raise InvalidRequest("the form needs a `file` part")
    await uploads(request).accept_upload(fields, files.body)
    return HTTPResponse(status=204)


@bp.get(UPLOAD_PATH + "/<attachment_id:int>", ctx_auth="none", ctx_client="none")
@documented(
    summary="Download an attachment by its signed URL",
    description="Answers the file with its own content type; a bad or expired signature is 404.",
    query=DownloadQuery,
    rejects_invalid=False,
    response=bytes,
    media="*/*",
    errors=[404],
    tag="uploads",
)
async def download(request: Request, attachment_id: int) -> HTTPResponse:
    try:
        expires = int(request.args.get("expires", "0"))
    except ValueError:
        expires = 0
    attachment, content = await uploads(request).download(attachment_id, expires, request.args.get("signature", ""))
    return raw_response(
        content,
        content_type=attachment.file_type,
        headers={
            "Cache-Control": "private, max-age=600",
            "Content-Disposition": content_disposition(attachment.file_name),
            "X-Content-Type-Options": "nosniff",  # served as the type it was uploaded as, never sniffed
        },
    )


def content_disposition(file_name: str) -> str:
    """RFC 6266: the client chose the name, so the quoted fallback keeps printable ASCII only (no quote, no
    backslash, no CR/LF to split the header) and the name itself travels percent-encoded in filename*."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in file_name) or "download"
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='', errors='replace')}"
