"""docs/protocol.md §1.4 response envelopes."""

from __future__ import annotations

from typing import Any

from sanic import HTTPResponse
from sanic.response import json as json_response

from app.errors import AdjutantError
from app.wire_errors import error_body


def success(data: Any, *, status: int = 200, meta: dict[str, Any] | None = None) -> HTTPResponse:
    body: dict[str, Any] = {"data": data, "is_success": True, "status_code": status}
    if meta is not None:
        body["meta"] = meta
    return json_response(body, status=status)


def error_response(exc: AdjutantError) -> HTTPResponse:
    headers = {}
    retry_after = exc.retry_after_header()
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return json_response(error_body(exc), status=exc.http_status, headers=headers)


def success_raw(data_json: bytes, *, status: int = 200) -> HTTPResponse:
    """A success envelope around an already-serialised payload (the immutable config snapshots)."""
    body = b'{"data":' + data_json + b',"is_success":true,"status_code":' + str(status).encode() + b"}"
    return HTTPResponse(body, status=status, content_type="application/json")
