"""Structured logging: one JSON object (or one key=value line) per record, with the request id, and with
every credential scrubbed before it is written."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app.runtime.redaction import redact_url
from app.runtime.settings import LoggingSettings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Credential shapes we can recognise without knowing the value.
SECRET_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"adj_[A-Za-z0-9_-]{20,}"), "adj_***"),
    (re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"), "sk-***"),
    (re.compile(r"AIza[0-9A-Za-z_-]{30,}"), "AIza***"),
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|api[_-]?key|token|authorization|new_session_data|"
            r"encrypted_session_data)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+"
        ),
        r"\1***",
    ),
]
STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class Redactor:
    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret containing another is replaced whole.
        self.known = sorted({s for s in known_secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.known:
            text = text.replace(value, "***")
        for pattern, replacement in SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        return redact_url(text)


class StructuredFormatter(logging.Formatter):
    def __init__(self, redact: Redactor, as_json: bool) -> None:
        super().__init__()
        self.redact = redact
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            fields["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRS and key not in fields and not key.startswith("_"):
                fields[key] = value
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if self.as_json:
            line = json.dumps(fields, default=str, ensure_ascii=False)
        else:
            head = f"{fields.pop('ts')} {fields.pop('level'):<7} {fields.pop('logger')}: {fields.pop('msg')}"
            exc = fields.pop("exc", None)
            line = head + "".join(f" {k}={v}" for k, v in fields.items()) + (f"\n{exc}" if exc else "")
        return self.redact(line)


_handler: logging.Handler | None = None


def configure_logging(settings: LoggingSettings, known_secrets: Iterable[str] = (), stream: Any = None) -> Redactor:
    """Install the structured handler on the root logger (idempotent); returns the redactor in use."""
    global _handler
    redactor = Redactor(known_secrets)
    stream = stream or sys.stderr
    as_json = settings.format == "json" or (settings.format == "auto" and not stream.isatty())
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream)
    _handler.setFormatter(StructuredFormatter(redactor, as_json))
    root.addHandler(_handler)
    root.setLevel(settings.level)
    # Sanic and libraries log through the root handler; keep their chatter at our level or above.
    for name in (
        "sanic.root",
        "sanic.error",
        "sanic.server",
        "sanic.access",
        "sanic.websockets",
        "tortoise",
        "asyncio",
        "httpx",
    ):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Tortoise announces every pool open/close at INFO; only its warnings matter to operators.
    logging.getLogger("tortoise").setLevel(max(logging.WARNING, logging.getLevelName(settings.level)))
    return redactor


def sanic_log_config() -> dict[str, Any]:
    """Logging config for Sanic: no handlers of its own, everything propagates to ours."""
    loggers = ["sanic.root", "sanic.error", "sanic.access", "sanic.server", "sanic.websockets"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {name: {"handlers": [], "propagate": True} for name in loggers},
    }
