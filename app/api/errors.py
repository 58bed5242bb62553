"""The one place where exceptions become wire errors."""

from __future__ import annotations

import logging

import sanic.exceptions as sanic_exc
from pydantic import ValidationError
from sanic import Request, Sanic
from sanic.handlers import ErrorHandler

from app.api.envelopes import error_response
from app.db.connection import is_unavailable
from app.errors import (
    AdjutantError,
    DatabaseUnavailable,
    InputTokenLimitExceeded,
    InternalError,
    InvalidRequest,
    LLMThrottled,
    MethodNotAllowed,
    ModelUnavailable,
    PayloadTooLarge,
    ProviderFailure,
    RouteNotFound,
    ServiceUnavailable,
)
from app.llm import errors as llm_errors

log = logging.getLogger("adjutant.api")


def to_adjutant_error(exc: BaseException) -> AdjutantError:
    if isinstance(exc, AdjutantError):
        return exc
    if isinstance(exc, llm_errors.LLMError):
        return from_llm_error(exc)
    if isinstance(exc, ValidationError):
        return InvalidRequest(errors=validation_details(exc))
    if isinstance(exc, sanic_exc.NotFound):
        return RouteNotFound("no such route")
    if isinstance(exc, sanic_exc.MethodNotAllowed):
        return MethodNotAllowed("method not allowed on this route")
    if isinstance(exc, sanic_exc.PayloadTooLarge):
        return PayloadTooLarge("request body too large")
    if isinstance(exc, sanic_exc.BadRequest):  # includes a body that is not valid JSON
        return InvalidRequest(str(exc) or "malformed request")
    if isinstance(exc, sanic_exc.ServiceUnavailable):
        return ServiceUnavailable("service unavailable")
    if isinstance(exc, sanic_exc.RequestTimeout):
        return InvalidRequest("request timed out")
    if is_unavailable(exc):
        return DatabaseUnavailable("the database is unavailable; nothing was changed, try again shortly")
    return InternalError("internal error")


def from_llm_error(exc: llm_errors.LLMError) -> AdjutantError:
    where = {"model": exc.model, "provider": exc.provider}
    if isinstance(exc, llm_errors.Throttled):
        return LLMThrottled(exc.message, retry_after=exc.retry_after, meta=where | {"retry_after": exc.retry_after})
    if isinstance(exc, llm_errors.InputTokenLimitExceeded):
        return InputTokenLimitExceeded(
            exc.message, meta=where | {"current_tokens": exc.current, "max_tokens": exc.maximum}
        )
    if isinstance(exc, llm_errors.ModelUnavailable):
        return ModelUnavailable(exc.message, meta=where)
    return ProviderFailure(exc.message, meta=where)


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(p) for p in error["loc"])
        details.append({"message": f"{location}: {error['msg']}" if location else error["msg"], "field": location})
    return details


class EnvelopeErrorHandler(ErrorHandler):
    """Every error, ours or Sanic's, leaves as a docs/protocol.md §1.4 error envelope; never HTML, never a traceback."""

    def default(self, request: Request, exception: Exception):  # type: ignore[override]
        error = to_adjutant_error(exception)
        if isinstance(error, InternalError) and error is not exception:
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
            report_to_sentry(exception)
        return error_response(error)


def report_to_sentry(exception: BaseException) -> None:
    try:
        import sentry_sdk

        sentry_sdk.capture_exception(exception)
    except Exception:
        log.debug("sentry capture failed", exc_info=True)


def install(app: Sanic) -> None:
    app.error_handler = EnvelopeErrorHandler()
