"""Typed failures of model calls. The router retries and falls back on `retryable` ones before any output;
after output has started they become an `ErrorEvent`, never a normal finish."""

from __future__ import annotations

from app.llm.types import ErrorEvent, ErrorKind


class LLMError(Exception):
    kind: ErrorKind = "provider"
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

    def to_event(self) -> ErrorEvent:
        return ErrorEvent(
            error_kind=self.kind,
            message=self.message,
            model=self.model,
            provider=self.provider,
            retry_after=getattr(self, "retry_after", None),
        )


class Throttled(LLMError):
    """HTTP 429 / rate or quota limits; `retry_after` in seconds when the provider said."""

    kind: ErrorKind = "throttled"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **where: str | None) -> None:
        super().__init__(message, **where)
        self.retry_after = retry_after


class InputTokenLimitExceeded(LLMError):
    kind: ErrorKind = "token_limit"

    def __init__(self, current: int, maximum: int, **where: str | None) -> None:
        super().__init__(f"input of ~{current} tokens exceeds the model's limit of {maximum}", **where)
        self.current = current
        self.maximum = maximum


class ProviderError(LLMError):
    """Anything else the provider reports; 5xx, overload and connection failures are retryable."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, **where: str | None
    ) -> None:
        super().__init__(message, **where)
        self.status = status
        self.retryable = retryable


class LLMTimeout(ProviderError):
    kind: ErrorKind = "timeout"

    def __init__(self, message: str, **where: str | None) -> None:
        super().__init__(message, retryable=True, **where)


class MalformedToolCall(LLMError):
    kind: ErrorKind = "malformed"

    def __init__(self, reason: str, raw: str, **where: str | None) -> None:
        super().__init__(reason, **where)
        self.raw = raw


class ModelUnavailable(LLMError):
    """The model is not configured, or its provider has no credentials or is not installed."""

    kind: ErrorKind = "provider"
