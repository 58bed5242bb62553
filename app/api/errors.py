"""HTTP errors: Sanic's exceptions become typed ones, and every error leaves as an envelope
(`app.wire_errors` decides its shape)."""

from __future__ import annotations

import logging

import sanic.exceptions as sanic_exc
from sanic import Request, Sanic
from sanic.handlers import ErrorHandler

from app.api.envelopes import error_response
from app.errors import (
    AdjutantError,
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    ServiceUnavailable,
    StoreUnavailable,
)
from app.wire_errors import is_unexpected, validation_details
from app.wire_errors import to_adjutant_error as typed_error

__all__ = ["EnvelopeErrorHandler", "install", "report_to_sentry", "to_adjutant_error", "validation_details"]

log = logging.getLogger("adjutant.api")


def to_adjutant_error(exc: BaseException) -> AdjutantError:
    """Sanic's own exceptions as typed errors; everything else as `app.wire_errors` maps it."""
    if isinstance(exc, sanic_exc.NotFound):
        return RouteNotFound("no such route")
    if isinstance(exc, sanic_exc.MethodNotAllowed):
        return MethodNotAllowed("method not allowed on this route")
    if isinstance(exc, sanic_exc.PayloadTooLarge):
        return PayloadTooLarge(str(exc) or "request too large")  # Sanic's text says header or body
    if isinstance(exc, sanic_exc.BadRequest):  # includes a body that is not valid JSON
        return InvalidRequest(str(exc) or "malformed request")
    if isinstance(exc, sanic_exc.ServiceUnavailable):
        return ServiceUnavailable("service unavailable")
    if isinstance(exc, sanic_exc.RequestTimeout):
        return InvalidRequest("request timed out")
    return typed_error(exc)


class EnvelopeErrorHandler(ErrorHandler):
    """Every error, ours or Sanic's, leaves as a docs/protocol.md §1.4 error envelope; never HTML, never a traceback."""

    def default(self, request: Request, exception: Exception):  # type: ignore[override]
        error = to_adjutant_error(exception)
        if is_unexpected(error, exception):
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
            report_to_sentry(exception)
        elif isinstance(error, StoreUnavailable) and error is not exception:
            log.warning("%s %s: a store is unavailable (%s)", request.method, request.path, exception)
        return error_response(error)


def report_to_sentry(exception: BaseException) -> None:
    try:
        import sentry_sdk

        sentry_sdk.capture_exception(exception)
    except Exception:
        log.debug("sentry capture failed", exc_info=True)


def install(app: Sanic) -> None:
    app.error_handler = EnvelopeErrorHandler()
