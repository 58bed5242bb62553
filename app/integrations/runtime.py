"""What every client of a worker shares: settings, Redis (limiter pauses, ETags, cached tokens), the blocking
pool, and one limiter per connection. A client is built from a `ConnectionInfo` and this runtime."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.integrations.blocking import BlockingPool
from app.integrations.connection import ConnectionInfo
from app.integrations.http import AuthHeaders, CallPolicy, IntegrationHttp, RatePolicy
from app.integrations.limiter import ConnectionLimiter
from app.runtime.settings import IntegrationSettings


class IntegrationRuntime:
    def __init__(self, settings: IntegrationSettings, *, redis: Any | None, key_prefix: str) -> None:
        self.settings = settings
        self.redis = redis
        self.key_prefix = key_prefix
        self.pool = BlockingPool(settings.blocking_threads)
        self.policy = CallPolicy.from_settings(settings)
        self._limiters: dict[int, ConnectionLimiter] = {}

    def key(self, connection: ConnectionInfo, name: str) -> str:
        """A Redis key of this connection (cached tokens, ETags): removed connections leave only expiring keys."""
        return f"{self.key_prefix}integration:{connection.id}:{name}"

    def limiter(self, connection: ConnectionInfo) -> ConnectionLimiter:
        limiter = self._limiters.get(connection.id)
        if limiter is None:
            limiter = ConnectionLimiter(
                self.key(connection, "paused-until"),
                redis=self.redis,
                max_wait_s=self.settings.max_rate_wait_s,
                concurrency=self.settings.concurrency_per_connection,
                service=connection.kind,
            )
            self._limiters[connection.id] = limiter
        return limiter

    def http(
        self,
        connection: ConnectionInfo,
        *,
        auth: AuthHeaders,
        base_url: str | None = None,
        rate_policy: RatePolicy | None = None,
        conditional_gets: bool = False,
        on_refused: Any = None,
    ) -> IntegrationHttp:
        return IntegrationHttp(
            connection.kind,
            base_url or connection.base_url,
            auth=auth,
            limiter=self.limiter(connection),
            policy=self.policy,
            redis=self.redis,
            etag_prefix=self.key(connection, "etag:") if conditional_gets else None,
            etag_ttl_s=self.settings.etag_cache_ttl_s,
            rate_policy=rate_policy,
            on_refused=on_refused,
        )

    def close(self) -> None:
        self.pool.shutdown()


def static_headers(headers: Mapping[str, str]) -> AuthHeaders:
    frozen = dict(headers)

    async def auth() -> Mapping[str, str]:
        return frozen

    return auth
