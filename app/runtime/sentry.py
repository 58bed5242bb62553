"""Error reporting to Sentry when a DSN is configured; events are scrubbed of credentials first."""

from __future__ import annotations

import json
from typing import Any

from app.runtime.logging import Redactor
from app.runtime.settings import SentrySettings

SENSITIVE_HEADERS = {"authorization", "cookie", "new_session_data", "x-api-key"}


def init_sentry(settings: SentrySettings, redactor: Redactor, release: str) -> bool:
    if not settings.dsn:
        return False
    import sentry_sdk

    def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
        return scrub_event(event, redactor)

    sentry_sdk.init(
        dsn=settings.dsn,
        environment=settings.environment,
        release=release,
        traces_sample_rate=settings.traces_sample_rate,
        before_send=before_send,  # type: ignore[arg-type]
        # We report errors explicitly from the single error mapper; no framework auto-instrumentation.
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    return True


def scrub_event(event: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: ("***" if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}
        request.pop("cookies", None)
        request.pop("data", None)
    # Anything left (messages, frame variables, breadcrumbs) goes through the same redaction as logs.
    return json.loads(redactor(json.dumps(event, default=str)))


def close_sentry() -> None:
    """Flush queued events and detach, so a stopped app leaves no reporting thread behind."""
    import sentry_sdk

    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=2)
