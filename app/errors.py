"""The one exception hierarchy of Adjutant.

Every error a client can observe is an `AdjutantError` subclass carrying its wire code and HTTP status.
They are mapped to the wire in exactly one place (`app.api.errors`); services raise them and never build
responses themselves.
"""

from __future__ import annotations

from typing import Any


class AdjutantError(Exception):
    """Base class: `code` is the wire `error.message`, `http_status` the HTTP status."""

    code: str = "INTERNAL_ERROR"
    http_status: int = 500

    def __init__(self, detail: str | None = None, *, meta: dict[str, Any] | None = None) -> None:
        self.detail = detail or self.code
        self.meta = meta
        super().__init__(self.detail)

    @property
    def error_code(self) -> int | None:
        """The numeric client error code (docs/protocol.md §1.3), where one exists."""
        return None

    def details(self) -> list[dict[str, Any]]:
        """Per-item error descriptions for `error.errors`."""
        return [{"message": self.detail}]

    def retry_after_header(self) -> int | None:
        """Whole seconds for an HTTP `Retry-After` header, where the error has one."""
        return None


class ConfigError(Exception):
    """Invalid configuration; raised at start-up and printed as one readable line."""


class EmbeddedServiceError(Exception):
    """An embedded PostgreSQL or Redis could not be initialised, started or stopped."""


class MigrationError(Exception):
    """The schema history on disk and in the database disagree, or a migration failed."""


class SecretUnreadable(Exception):
    """A sealed credential that no configured key opens for its purpose (altered, moved, or its key removed)."""


# --- authentication ----------------------------------------------------------------------------------------


class NotVerified(AdjutantError):
    """The bearer token is missing, malformed, unknown, revoked or expired beyond refresh."""

    code = "NOT_VERIFIED"
    http_status = 400


class AuthUnavailable(AdjutantError):
    """The token store could not be reached; must never be reported as NOT_VERIFIED (docs/protocol.md §1.5)."""

    code = "AUTH_UNAVAILABLE"
    http_status = 503


# --- client validation (docs/protocol.md §1.3) -----------------------------------------------------------------------


class ClientValidationError(AdjutantError):
    http_status = 400
    numeric_code: int = 0

    @property
    def error_code(self) -> int:
        return self.numeric_code


class ClientHeaderMissing(ClientValidationError):
    code = "CLIENT_HEADER_MISSING"
    numeric_code = 102


class UnknownClient(ClientValidationError):
    code = "INVALID_CLIENT"
    numeric_code = 103


class ClientVersionMissing(ClientValidationError):
    code = "CLIENT_VERSION_MISSING"
    numeric_code = 104


class ClientVersionTooOld(ClientValidationError):
    code = "INVALID_CLIENT_VERSION"
    numeric_code = 101


# --- request validation and resources ---------------------------------------------------------------------


class InvalidRequest(AdjutantError):
    code = "INVALID_REQUEST"
    http_status = 422

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail or "The request is not valid")
        self.errors = errors

    def details(self) -> list[dict[str, Any]]:
        return self.errors or [{"message": self.detail}]


class NotFound(AdjutantError):
    """A resource does not exist or is not owned by the caller; the two are indistinguishable by design."""

    code = "NOT_FOUND"
    http_status = 404


class RouteNotFound(NotFound):
    pass


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"


class AttachmentNotFound(NotFound):
    code = "ATTACHMENT_NOT_FOUND"


class JobNotFound(NotFound):
    code = "JOB_NOT_FOUND"


class ReviewNotFound(NotFound):
    code = "REVIEW_NOT_FOUND"


class Forbidden(AdjutantError):
    """The caller is known but its team role does not allow this action."""

    code = "FORBIDDEN"
    http_status = 403


class MethodNotAllowed(AdjutantError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class Conflict(AdjutantError):
    code = "CONFLICT"
    http_status = 409


class PayloadTooLarge(AdjutantError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class TooManyStreams(AdjutantError):
    """A connection already follows as many steps as it may; nothing was started."""

    code = "TOO_MANY_STREAMS"
    http_status = 429


class RateLimited(AdjutantError):
    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or f"Rate limited; retry after {retry_after} s")
        self.retry_after = retry_after

    def retry_after_header(self) -> int | None:
        return self.retry_after


# --- integrations (SCM, trackers, chat platforms) ---------------------------------------------------------
#
# Raised by the clients in app/integrations/. The detail names the service and what failed, never a credential
# or the upstream's raw body; `reason` is what a server tool tells the model.


class IntegrationError(AdjutantError):
    code = "INTEGRATION_FAILED"
    http_status = 502
    reason = "failed"

    def __init__(self, detail: str, *, service: str | None = None) -> None:
        super().__init__(detail)
        self.service = service


class IntegrationAuthFailed(IntegrationError):
    """The service refused the connection's credentials (401), or they lack a permission the call needs (403)."""

    code = "INTEGRATION_AUTH_FAILED"
    reason = "auth_failed"


class IntegrationNotFound(IntegrationError):
    """The service has no such object (or hides it from these credentials)."""

    code = "INTEGRATION_NOT_FOUND"
    http_status = 404
    reason = "not_found"


class IntegrationRateLimited(IntegrationError):
    """The service's rate limit is spent; `retry_after` seconds until it allows calls again."""

    code = "INTEGRATION_RATE_LIMITED"
    http_status = 429
    reason = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float, service: str | None = None) -> None:
        super().__init__(detail, service=service)
        self.retry_after = retry_after

    def retry_after_header(self) -> int | None:
        return max(1, round(self.retry_after))


class IntegrationUnavailable(IntegrationError):
    """The service timed out, could not be reached, or kept answering 5xx after our retries."""

    code = "INTEGRATION_UNAVAILABLE"
    http_status = 503
    reason = "unavailable"


class IntegrationRejected(IntegrationError):
    """The service refused the request itself (400/409/422): e.g. an invalid JQL query or a field it rejects."""

    code = "INTEGRATION_REJECTED"
    http_status = 422
    reason = "rejected"


class ConnectionNotFound(NotFound):
    """The team has no such connection (or it belongs to another team; the two look the same)."""

    code = "CONNECTION_NOT_FOUND"


# --- jobs, schedules and webhooks ---------------------------------------------------------------------------


class JobNotRetryable(Conflict):
    """Only a FAILED or DEAD job can be retried; one queued, running or succeeded is left as it is."""

    code = "JOB_NOT_RETRYABLE"


class ScheduleNotFound(NotFound):
    code = "SCHEDULE_NOT_FOUND"


class JobFailedPermanently(Exception):
    """Raised by a job handler for a failure no retry can fix: the job is DEAD at once, `str(exc)` its error."""


class WebhookNotFound(NotFound):
    """No connection of that platform has that hook id (or it cannot verify deliveries)."""

    code = "WEBHOOK_NOT_FOUND"


class WebhookSignatureInvalid(AdjutantError):
    """The delivery is not signed with the connection's webhook secret, or its timestamp is out of window."""

    code = "WEBHOOK_SIGNATURE_INVALID"
    http_status = 401


class WebhookReplayed(Conflict):
    """A delivery id (or a Slack timestamp and signature) seen within the replay window."""

    code = "WEBHOOK_REPLAYED"


class WebhookMalformed(AdjutantError):
    """A signed delivery whose body or headers are not what the platform sends."""

    code = "WEBHOOK_MALFORMED"
    http_status = 400


class WebhookTooLarge(PayloadTooLarge):
    pass


class IndexingFailed(AdjutantError):
    """A repository could not be cloned or indexed; the detail is safe to show (never git's own output)."""

    code = "INDEXING_FAILED"
    http_status = 502


class ReviewRulesInvalid(InvalidRequest):
    """A repository's `.adjutant.toml` `[review]` table is not valid TOML or breaks the rules' schema."""

    code = "REVIEW_RULES_INVALID"


class ReleaseRangeInvalid(InvalidRequest):
    """A release-notes range names a ref the repository lacks, or its history cannot be read."""

    code = "RELEASE_RANGE_INVALID"


class ReleaseRulesInvalid(InvalidRequest):
    """A repository's `.adjutant.toml` `[release_notes]` table is not valid TOML or breaks its schema."""

    code = "RELEASE_RULES_INVALID"


class ReleaseNotesNotFound(NotFound):
    code = "RELEASE_NOTES_NOT_FOUND"


class KnowledgeImportNotFound(NotFound):
    """The team has no such knowledge import (or it is another team's; the two look the same)."""

    code = "KNOWLEDGE_IMPORT_NOT_FOUND"


class CrawlNotFound(NotFound):
    """The team has no such repository crawl (or it is another team's; the two look the same)."""

    code = "CRAWL_NOT_FOUND"


class KnowledgeSourceConflict(Conflict):
    """A knowledge source of that name exists with another kind."""

    code = "KNOWLEDGE_SOURCE_CONFLICT"


class ReleaseNotesStateInvalid(Conflict):
    """The release notes are not in the state the action needs (approve a draft, publish approved notes)."""

    code = "RELEASE_NOTES_STATE_INVALID"


class DocTicketNotFound(NotFound):
    code = "DOC_TICKET_NOT_FOUND"


class DocTicketStateInvalid(Conflict):
    """The documentation ticket is not in the state the action needs (only drafts are approved or rejected)."""

    code = "DOC_TICKET_STATE_INVALID"


class FeedbackRunNotFound(NotFound):
    code = "FEEDBACK_RUN_NOT_FOUND"


class NotImplementedRoute(AdjutantError):
    """A reference-server route that is out of scope (docs/protocol.md §1.1)."""

    code = "NOT_IMPLEMENTED"
    http_status = 501


class InternalError(AdjutantError):
    code = "INTERNAL_ERROR"
    http_status = 500


class ReviewStateInvalid(InternalError):
    """A stored reviewer conversation cannot continue as asked (wrong reviewer, unknown or missing tool
    results): a driver bug or a corrupted record, never the client's input."""


class ServiceUnavailable(AdjutantError):
    code = "SERVICE_UNAVAILABLE"
    http_status = 503


class JobQueueUnavailable(ServiceUnavailable):
    """The job transport (Redis or Kafka) cannot be reached: nothing was queued."""

    code = "JOB_QUEUE_UNAVAILABLE"


class StoreUnavailable(InternalError):
    """PostgreSQL or Redis cannot be reached right now: the request changed nothing, or the step that met it
    failed and says so. The chat wire has no status of its own for this, so it travels as INTERNAL_ERROR."""

    http_status = 503


class StreamStoreUnavailable(StoreUnavailable):
    """Redis (resume buffers, step liveness, cancellation) cannot be written or read."""


class DatabaseUnavailable(StoreUnavailable):
    """PostgreSQL cannot be reached."""


# --- chat requests (docs/protocol.md §5.7 request-level STREAM_ERROR statuses) --------------------------------


class SessionBusy(AdjutantError):
    code = "SESSION_BUSY"
    http_status = 409


class InvalidToolResponse(AdjutantError):
    code = "INVALID_TOOL_RESPONSE"
    http_status = 422


class ResumeNotPossible(AdjutantError):
    code = "RESUME_NOT_POSSIBLE"
    http_status = 404


# --- model calls ---------------------------------------------------------------------------------------------
#
# The router retries and falls back on `retryable` ones before any output; after output has started they
# become an `ErrorEvent`, never a normal finish. `kind` is the event's `error_kind` (app.llm.types.ErrorKind).


class LLMError(AdjutantError):
    """A model call failed; `model` and `provider` name where, once known."""

    code = "PROVIDER_ERROR"
    http_status = 502
    kind: str = "provider"
    retryable = False

    def __init__(self, message: str, *, model: str | None = None, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.provider = provider

    def located(self, *, model: str, provider: str) -> LLMError:
        """Name the model and provider that failed, if the adapter did not."""
        self.model = self.model or model
        self.provider = self.provider or provider
        return self

    @property
    def meta(self) -> dict[str, Any] | None:  # type: ignore[override]
        # Computed when read: the router locates an error after it was raised. An error raised outside the
        # model layer (nothing located) carries no meta, as before the hierarchies were one.
        if self.model is None and self.provider is None:
            return None
        return {"model": self.model, "provider": self.provider} | self._meta_extra()

    @meta.setter
    def meta(self, value: dict[str, Any] | None) -> None:
        pass  # always derived from the error's own fields

    def _meta_extra(self) -> dict[str, Any]:
        return {}


class Throttled(LLMError):
    """HTTP 429 / rate or quota limits; `retry_after` in seconds when the provider said."""

    code = "LLM_THROTTLED"
    http_status = 429
    kind = "throttled"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **where: str | None) -> None:
        super().__init__(message, **where)
        self.retry_after = retry_after

    def retry_after_header(self) -> int | None:
        return None if self.retry_after is None else max(1, round(self.retry_after))

    def _meta_extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


class InputTokenLimitExceeded(LLMError):
    code = "INPUT_TOKEN_LIMIT_EXCEEDED"
    http_status = 422
    kind = "token_limit"

    def __init__(self, current: int, maximum: int, **where: str | None) -> None:
        super().__init__(f"input of ~{current} tokens exceeds the model's limit of {maximum}", **where)
        self.current = current
        self.maximum = maximum

    def _meta_extra(self) -> dict[str, Any]:
        return {"current_tokens": self.current, "max_tokens": self.maximum}


class ProviderError(LLMError):
    """Anything else the provider reports; 5xx, overload and connection failures are retryable."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, **where: str | None
    ) -> None:
        super().__init__(message, **where)
        self.status = status
        self.retryable = retryable


class LLMTimeout(ProviderError):
    kind = "timeout"

    def __init__(self, message: str, **where: str | None) -> None:
        super().__init__(message, retryable=True, **where)


class MalformedToolCall(LLMError):
    kind = "malformed"

    def __init__(self, reason: str, raw: str, **where: str | None) -> None:
        super().__init__(reason, **where)
        self.raw = raw


class ModelUnavailable(LLMError):
    """The model is not configured, or its provider has no credentials or is not installed."""

    code = "MODEL_UNAVAILABLE"
    http_status = 503


class ModelStreamFailed(LLMError):
    """The model stream reported an error event after output had started (the router's `ErrorEvent`)."""

    def __init__(self, event: Any) -> None:
        super().__init__(event.message, model=event.model, provider=event.provider)
        self.event = event
