"""Saved URLs and URL summaries, called by the local binary (docs/protocol.md §4.2): thin adapters over
`app.extension.saved_urls` and `app.extension.url_summary`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, Strict, StrictBool
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from app.api.envelopes import success
from app.api.limits import rate_limit
from app.api.openapi import documented
from app.api.validation import parse_body, parse_query
from app.db.wire_types import Int32, WireInt, WireStr
from app.errors import PayloadTooLarge
from app.extension import saved_urls, url_summary
from app.extension.saved_urls import IndexedAt, SavedUrl, SavedUrlPage, UrlName, WebUrl

bp = Blueprint("urls")
DEFAULT_MAX_CONTENT_SIZE = 100_000  # the reference client's URL_CONTENT_READER.MAX_CONTENT_SIZE
JSON_BYTES_PER_CHAR = 12  # worst case: a character outside the BMP written as two \uXXXX escapes


class SaveUrlBody(BaseModel):
    name: UrlName
    url: WebUrl
    last_indexed: IndexedAt | None = None


class UpdateUrlBody(BaseModel):
    """Null or absent fields stay as they are."""

    id: WireInt  # beyond the id range: not found, like a foreign id (docs/protocol.md §0)
    name: UrlName | None = None
    url: WebUrl | None = None
    last_indexed: IndexedAt | None = None
    is_deleted: StrictBool | None = None


class DeleteUrlQuery(BaseModel):
    url_id: WireInt


class SavedUrlListQuery(BaseModel):
    limit: Int32 = Field(default=20, ge=1, le=100)
    offset: Int32 = Field(default=0, ge=0, le=1_000_000)


class SummarizeUrlBody(BaseModel):
    content: Annotated[WireStr, Strict()] = Field(min_length=1)


@bp.post("/end_user/v1/urls/save_url")
@documented(summary="Save a URL", body=SaveUrlBody, response=SavedUrl, errors=[409], tag="urls")
async def save_url(request: Request) -> HTTPResponse:
    body = parse_body(request, SaveUrlBody)
    saved = await saved_urls.save(
        request.ctx.auth.principal,
        name=body.name,
        url=body.url,
        last_indexed=body.last_indexed,
        cap=request.app.ctx.settings.extension.saved_urls_per_user,
    )
    return success(saved.model_dump(mode="json"))


@bp.put("/end_user/v1/urls/update_url")
@documented(summary="Update a saved URL", body=UpdateUrlBody, response=SavedUrl, errors=[404], tag="urls")
async def update_url(request: Request) -> HTTPResponse:
    body = parse_body(request, UpdateUrlBody)
    updated = await saved_urls.update(
        request.ctx.auth.principal,
        body.id,
        name=body.name,
        url=body.url,
        last_indexed=body.last_indexed,
        is_deleted=body.is_deleted,
    )
    return success(updated.model_dump(mode="json"))


@bp.get("/end_user/v1/urls/delete_url")
@documented(summary="Delete a saved URL", query=DeleteUrlQuery, response=None, errors=[404], tag="urls")
async def delete_url(request: Request) -> HTTPResponse:
    query = parse_query(request, DeleteUrlQuery)
    await saved_urls.delete(request.ctx.auth.principal, query.url_id)
    return success(None)


@bp.get("/end_user/v1/urls/saved_url/list")
@documented(summary="Saved URLs, newest first", query=SavedUrlListQuery, response=SavedUrlPage, tag="urls")
async def list_urls(request: Request) -> HTTPResponse:
    query = parse_query(request, SavedUrlListQuery)
    page = await saved_urls.page(request.ctx.auth.principal, limit=query.limit, offset=query.offset)
    return success(page.model_dump(mode="json"))


@bp.post("/end_user/v1/urls/summarize_url")
@documented(
    summary="Summarise a page's content",
    body=SummarizeUrlBody,
    response=str,
    errors=[413, 429, 502, 503],
    tag="urls",
)
async def summarize_url(request: Request) -> HTTPResponse:
    # The X-Session-Id the binary may send is not used (a summary belongs to no conversation), so not checked.
    reader = request.app.ctx.settings.client_config.local_binary.URL_CONTENT_READER
    max_chars = 2 * int(reader.get("MAX_CONTENT_SIZE", DEFAULT_MAX_CONTENT_SIZE))
    if len(request.body or b"") > JSON_BYTES_PER_CHAR * max_chars + 4096:  # refused before parsing it
        raise PayloadTooLarge(f"at most {max_chars} characters of content can be summarised")
    body = parse_body(request, SummarizeUrlBody)
    await rate_limit(request, "url_summary", request.app.ctx.settings.extension.url_summaries_per_minute)
    summary = await url_summary.summarize(body.content, request.app.ctx.helper, max_chars=max_chars)
    return success(summary)
