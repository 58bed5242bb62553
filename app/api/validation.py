"""Parsing what a request carries (body, query string, form, headers) into checked values; any problem is
422 INVALID_REQUEST before a route or a service sees it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sanic import Request, Sanic

from app.api.errors import validation_details
from app.db.wire_types import decode_json, text_problem
from app.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)
SESSION_TYPE_CHARS = 64  # sessions.session_type is VARCHAR(64)
HANDSHAKE_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # what a WebSocket handshake may carry


def json_object(raw: bytes | str | None, *, what: str = "the body") -> dict[str, Any]:
    """A JSON object; an empty body counts as `{}` (docs/protocol.md §1.2)."""
    data = decode_json(raw or b"{}", what=what)
    if not isinstance(data, dict):
        raise InvalidRequest(f"{what} must be a JSON object")
    return data


def parse_body(request: Request, model: type[M]) -> M:
    """The JSON body as `model`; anything but a JSON object is rejected.

    Fields are read as JSON types them (pydantic's strict JSON mode): a boolean is `true` or `false`, a number
    is not a string. Pydantic's default would also take 0, "yes" or "5" for a boolean and "5" or 5.0 for an
    integer, so a client's mistake would pass silently; integers written in digits stay accepted where the
    type says so (`app.db.wire_types.integer_form`)."""
    raw = request.body or b"{}"
    json_object(raw)  # UTF-8, bounded depth, storable strings, an object: refused before pydantic reads it
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise InvalidRequest(errors=validation_details(exc)) from None


def parse_query(request: Request, model: type[M]) -> M:
    """Single-valued query parameters; repeated ones keep their first value."""
    return validate(model, {key: values[0] for key, values in request.args.items() if values})


def parse_form(request: Request) -> tuple[dict[str, str], Any]:
    """A form's first value per field and its parsed files (Sanic decodes them lazily, and strictly)."""
    try:
        form, files = request.form, request.files
    except UnicodeDecodeError:
        raise InvalidRequest("the form is not valid UTF-8") from None
    fields = {key: values[0] for key, values in (form or {}).items() if values}
    check_texts(fields.items(), where="form field")
    return fields, files


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(errors=validation_details(exc)) from None


def check_texts(pairs: Iterable[tuple[str, str]], *, where: str) -> None:
    """Names and values that reach logs, comparisons or the database must be storable text."""
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            # The name is shown only when it is printable itself; the value never is.
            label = name if text_problem(name) is None and name.isprintable() else "a"
            raise InvalidRequest(f"{where} {label}: {problem}")


def check_headers(headers: Mapping[str, str]) -> None:
    """Headers as Sanic decodes them (bytes that are not UTF-8 become lone surrogates); X-Session-Type is
    stored on new sessions, so it is bounded like the payload's session_type."""
    check_texts(headers.items(), where="header")
    session_type = headers.get("x-session-type")
    if session_type is not None and len(session_type) > SESSION_TYPE_CHARS:
        raise InvalidRequest(f"header X-Session-Type: at most {SESSION_TYPE_CHARS} characters")


def check_handshake_headers(headers: Mapping[str, str]) -> None:
    """Header values a WebSocket handshake can carry: tab, printable ASCII and the Latin-1 range."""
    for name, value in headers.items():
        if not HANDSHAKE_HEADER_VALUE.fullmatch(value):
            label = name if name.isascii() and name.isprintable() else "a"
            raise InvalidRequest(f"header {label}: control characters or text that is not Latin-1")


def install(app: Sanic) -> None:
    # After the request id is set (priority 100), before client checks and authentication (priority 50).
    @app.on_request(priority=90)
    async def reject_unusable_text(request: Request) -> None:
        if request.route is not None and request.route.extra.websocket:
            # The socket reports problems in-band (docs/protocol.md §5.1), but the websockets library fails
            # the handshake with a 500 on a header value it cannot carry: a typed HTTP error instead.
            check_handshake_headers(request.headers)
            return
        check_headers(request.headers)
        check_texts(((k, v) for k, values in request.args.items() for v in values), where="query parameter")
