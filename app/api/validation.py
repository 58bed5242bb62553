"""Parsing request bodies and query strings into pydantic models (422 INVALID_REQUEST on any problem)."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sanic import Request

from app.api.errors import validation_details
from app.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)


def parse_body(request: Request, model: type[M]) -> M:
    """An empty body counts as `{}` (PROTOCOL §1.2); anything but a JSON object is rejected."""
    raw = request.body or b"{}"
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(errors=validation_details(exc)) from None


def parse_query(request: Request, model: type[M]) -> M:
    """Single-valued query parameters; repeated ones keep their first value."""
    data = {key: values[0] for key, values in request.args.items() if values}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(errors=validation_details(exc)) from None
