"""The one mapping from exceptions to the wire.

Errors are typed (`app.errors`); this module decides what each looks like to a client: the HTTP error envelope
(docs/protocol.md §1.4-1.5), the (status, message) of a request-level STREAM_ERROR and the fields of a step's
STREAM_ERROR (§5.7). It sits beside the hierarchy rather than in `api/` because a step's error frame is written
by `chat/` into the resume buffer, where any worker may replay it. The web framework's own exceptions are
translated by `app.api.errors` before they reach here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app.db.connection import is_unavailable
from app.errors import (
    AdjutantError,
    DatabaseUnavailable,
    InputTokenLimitExceeded,
    InternalError,
    InvalidRequest,
    LLMError,
    ModelStreamFailed,
    StoreUnavailable,
    Throttled,
)

if TYPE_CHECKING:
    from app.llm.registry import ModelRegistry

DEFAULT_RETRY_AFTER_S = 60
UNEXPECTED_MESSAGE = "Internal error"


# --- exceptions to typed errors -----------------------------------------------------------------------------


def to_adjutant_error(exc: BaseException) -> AdjutantError:
    """The typed error a client sees for `exc`; anything we did not expect is an `InternalError`."""
    if isinstance(exc, AdjutantError):
        return exc
    if isinstance(exc, ValidationError):
        return InvalidRequest(errors=validation_details(exc))
    if is_unavailable(exc):
        return DatabaseUnavailable("the database is unavailable; nothing was changed, try again shortly")
    return InternalError("internal error")


def is_unexpected(error: AdjutantError, exc: BaseException) -> bool:
    """True when `error` is the catch-all for a fault we did not foresee: log it, never show its text."""
    return error is not exc and type(error) is InternalError


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(p) for p in error["loc"])
        details.append({"message": f"{location}: {error['msg']}" if location else error["msg"], "field": location})
    return details


# --- HTTP (docs/protocol.md §1.4-1.5) ---------------------------------------------------------------------------


def error_body(exc: AdjutantError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "is_success": False,
        "status_code": exc.http_status,
        "error": {"message": exc.code, "errors": exc.details()},
    }
    if exc.error_code is not None:
        body["error_code"] = exc.error_code
        body["meta"] = {"error_code": exc.error_code, **(exc.meta or {})}
    elif exc.meta:
        body["meta"] = exc.meta
    return body


# --- chat requests: the STREAM_ERROR answering a request (docs/protocol.md §5.7) --------------------------------


def request_error_fields(exc: BaseException) -> tuple[str, str]:
    """(status, message) of a request-level STREAM_ERROR."""
    error = to_adjutant_error(exc)
    if is_unexpected(error, exc):
        return error.code, UNEXPECTED_MESSAGE
    return error.code, error.detail


# --- steps: the STREAM_ERROR ending a step (docs/protocol.md §5.7) ----------------------------------------------


def step_error_fields(
    exc: BaseException, model: str, provider: str | None, registry: ModelRegistry, *, query: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """(status, message, extra fields) of the STREAM_ERROR that ends a failed step."""
    if is_unavailable(exc):
        exc = DatabaseUnavailable("the database is unavailable")
    if isinstance(exc, ModelStreamFailed):
        event = exc.event
        where = {"model": event.model or model, "provider": event.provider or provider or ""}
        if event.error_kind == "throttled":
            return (
                "LLM_THROTTLED",
                "Rate limited",
                where
                | {
                    "retry_after": int(event.retry_after or DEFAULT_RETRY_AFTER_S),
                    "detail": event.message,
                    "region": None,
                },
            )
        return "PROVIDER_ERROR", "The model provider failed", where | {"detail": event.message}
    if isinstance(exc, LLMError):
        where = {"model": exc.model or model, "provider": exc.provider or provider or ""}
        if isinstance(exc, Throttled):
            return (
                "LLM_THROTTLED",
                "Rate limited",
                where
                | {
                    "retry_after": round(exc.retry_after) if exc.retry_after else DEFAULT_RETRY_AFTER_S,
                    "detail": exc.message,
                    "region": None,
                },
            )
        if isinstance(exc, InputTokenLimitExceeded):
            try:
                better = registry.better_models(registry.get(exc.model or model))
            except LLMError:
                better = []
            return (
                "INPUT_TOKEN_LIMIT_EXCEEDED",
                "The input is too long for this model",
                {
                    "model": exc.model or model,
                    "current_tokens": exc.current,
                    "max_tokens": exc.maximum,
                    "detail": exc.message,
                    "query": (query or "")[:200],
                    "better_models": better,
                },
            )
        return "PROVIDER_ERROR", "The model provider failed", where | {"detail": exc.message}
    if isinstance(exc, StoreUnavailable):
        return exc.code, "The answer could not be stored, so it was stopped: " + exc.detail, {}
    if isinstance(exc, TimeoutError):
        return (
            "PROVIDER_ERROR",
            "The step timed out",
            {"model": model, "provider": provider or "", "detail": "step timeout"},
        )
    return "INTERNAL_ERROR", UNEXPECTED_MESSAGE, {}
