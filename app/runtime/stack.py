"""The backing services of one command: external ones from URLs, embedded ones started on demand."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import ConfigError, EmbeddedServiceError
from app.runtime.embedded_postgres import EmbeddedPostgres
from app.runtime.embedded_redis import EmbeddedRedis
from app.runtime.processes import os_error_text
from app.runtime.redaction import redact_url
from app.runtime.settings import Settings


@dataclass
class Stack:
    database_url: str
    redis_url: str
    data_dir: Path
    embedded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # where an embedded server keeps what is not in the data dir

    def describe(self) -> dict[str, str]:
        """Where each service is, with credentials removed (safe to print and log)."""
        return {
            "database": redact_url(self.database_url) + (" (embedded)" if "postgres" in self.embedded else ""),
            "redis": redact_url(self.redis_url) + (" (embedded)" if "redis" in self.embedded else ""),
            "data_dir": str(self.data_dir),
        }


@contextlib.contextmanager
def backing_services(settings: Settings, *, need_redis: bool = True) -> Iterator[Stack]:
    """Yield the URLs to use; embedded servers started here are released (and stopped if unused) on exit."""
    data_dir = settings.server.resolved_data_dir()
    if not settings.embedded.enabled:
        missing = [
            name
            for name, url in (("DATABASE_URL", settings.database.url), ("REDIS_URL", settings.redis.url))
            if not url and (name == "DATABASE_URL" or need_redis)
        ]
        if missing:
            raise ConfigError(f"{' and '.join(missing)} must be set: embedded servers are disabled (embedded.enabled)")
    with contextlib.ExitStack() as cleanup:
        embedded: list[str] = []
        database_url = settings.database.url
        notes: list[str] = []
        if not database_url:
            _make_data_dir(data_dir)
            postgres = EmbeddedPostgres(
                data_dir,
                port=settings.embedded.postgres_port,
                start_timeout=settings.embedded.start_timeout_s,
                service_dir=settings.embedded.resolved_service_dir(),
            )
            postgres.start()
            cleanup.callback(postgres.release)
            database_url = postgres.url(settings.database.name)
            embedded.append("postgres")
            notes += [f"postgres  {note}" for note in postgres.notes]
        redis_url = settings.redis.url
        if not redis_url and need_redis:
            _make_data_dir(data_dir)
            redis = EmbeddedRedis(
                data_dir, port=settings.embedded.redis_port, start_timeout=settings.embedded.start_timeout_s
            )
            redis.start()
            cleanup.callback(redis.release)
            redis_url = redis.url()
            embedded.append("redis")
        yield Stack(database_url, redis_url, data_dir, embedded, notes)


def _make_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddedServiceError(
            f"cannot create the data dir {data_dir} ({os_error_text(exc)}); choose another with --data-dir "
            f"(server.data_dir), or set DATABASE_URL and REDIS_URL to use external servers"
        ) from None
