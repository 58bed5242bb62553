"""Mapping HTTP failures of any provider SDK onto our typed errors, in one place."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

from app.llm.errors import InputTokenLimitExceeded, LLMError, LLMTimeout, ProviderError, Throttled

RETRYABLE_STATUSES = {408, 409, 500, 502, 503, 504, 520, 522, 524, 529}
TOKEN_LIMIT_HINTS = re.compile(
    r"context.length|context window|prompt is too long|maximum context|too many tokens|input.*too long|"
    r"exceeds the (maximum|context)|token count.*exceeds",
    re.IGNORECASE,
)
NUMBERS = re.compile(r"\d[\d,]*")


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (delta seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(float(lowered["retry-after-ms"]) / 1000, 0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0) if parsed else None


def from_status(status: int, message: str, headers: Mapping[str, str] | None = None) -> LLMError:
    if status == 429:
        return Throttled(message or "rate limited", retry_after=retry_after_seconds(headers))
    if status in (400, 413) and TOKEN_LIMIT_HINTS.search(message or ""):
        numbers = [int(n.replace(",", "")) for n in NUMBERS.findall(message)]
        big = sorted((n for n in numbers if n >= 256), reverse=True)
        current, maximum = (big[0], big[1]) if len(big) >= 2 else (0, 0)
        return InputTokenLimitExceeded(current, maximum)
    return ProviderError(message or f"HTTP {status}", status=status, retryable=status in RETRYABLE_STATUSES)


def is_transport_error(exc: BaseException) -> bool:
    """Errors of the HTTP stack itself (SDKs may bundle their own httpx): connection lost, protocol, timeout."""
    module = exc.__class__.__module__.split(".")[0]
    return module in ("httpx", "httpx2", "httpcore", "h11", "anyio") or isinstance(exc, ConnectionError | TimeoutError)


def connection_failure(exc: BaseException) -> LLMError:
    name = exc.__class__.__name__
    if "Timeout" in name:
        return LLMTimeout(f"the provider did not answer in time ({name})")
    return ProviderError(f"connection to the provider failed ({name}: {exc})", retryable=True)
