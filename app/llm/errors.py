"""Typed failures of model calls. The classes live in the one hierarchy (`app.errors`); this module names them
for the model layer and turns one into the stream's `ErrorEvent`."""

from __future__ import annotations

from app.errors import (
    InputTokenLimitExceeded,
    LLMError,
    LLMTimeout,
    MalformedToolCall,
    ModelStreamFailed,
    ModelUnavailable,
    ProviderError,
    Throttled,
)
from app.llm.types import ErrorEvent

__all__ = [
    "InputTokenLimitExceeded",
    "LLMError",
    "LLMTimeout",
    "MalformedToolCall",
    "ModelStreamFailed",
    "ModelUnavailable",
    "ProviderError",
    "Throttled",
    "to_event",
]


def to_event(error: LLMError) -> ErrorEvent:
    """The stream event that reports `error` once output has started."""
    return ErrorEvent(
        error_kind=error.kind,  # type: ignore[arg-type]
        message=error.message,
        model=error.model,
        provider=error.provider,
        retry_after=getattr(error, "retry_after", None),
    )
