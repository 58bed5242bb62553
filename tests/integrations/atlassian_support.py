"""What the Jira and Confluence client tests share: a second worker's runtime (same Redis, its own limiters),
a port nothing listens on, and a record of the threads the HTTP requests left from."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
import requests.adapters

from app.integrations.runtime import IntegrationRuntime
from tests.integrations.conftest import integration_settings


@asynccontextmanager
async def other_worker(redis_url: str) -> AsyncIterator[IntegrationRuntime]:
    """Another process's runtime: nothing shared with the test's `runtime` but Redis."""
    redis = aioredis.Redis.from_url(redis_url)
    built = IntegrationRuntime(integration_settings(), redis=redis, key_prefix="test:")
    try:
        yield built
    finally:
        built.close()
        await redis.aclose()


def record_request_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the threads that send each HTTP request through `requests` (both libraries use it)."""
    names: list[str] = []
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        names.append(threading.current_thread().name)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return names


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
