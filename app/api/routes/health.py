"""Liveness, readiness and metrics: GET /ping, /health, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Literal

from pydantic import ConfigDict
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from app.api.openapi import Described, documented
from app.db.connection import ping_database, schema_status
from app.jobs.stats import refresh_gauges
from app.runtime import metrics

bp = Blueprint("health")
CHECK_TIMEOUT_S = 2.0


class Pong(Described):
    ping: Literal["pong"]


class DependencyCheck(Described):
    """One readiness check; the migrations check adds its schema status (applied, latest, pending, ...), the jobs
    check its backend (redis or kafka)."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    latency_ms: float
    error: str | None = None


class Health(Described):
    status: Literal["ok", "unavailable"]
    version: str
    checks: dict[str, DependencyCheck]


@bp.get("/ping")
@documented(summary="Liveness", response=Pong, envelope=False, tag="health")
async def ping(_request: Request) -> HTTPResponse:
    return json({"ping": "pong"})


async def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        result = {"ok": True, **(detail or {})}
    except Exception as exc:  # noqa: BLE001 - a failed dependency is reported, not raised
        result = {"ok": False, "error": exc.__class__.__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


@bp.get("/health")
@documented(
    summary="Readiness: database, Redis, schema version and the job backend",
    response=Health,
    envelope=False,
    status=(200, 503),
    tag="health",
)
async def health(request: Request) -> HTTPResponse:
    """Readiness: the database answers, Redis answers, the schema is exactly the one this code expects, and the
    job backend (redis or kafka, named in checks.jobs.backend) can be reached."""

    async def database() -> None:
        await ping_database()

    async def redis() -> None:
        await request.app.ctx.redis.ping()

    async def migrations() -> dict[str, Any]:
        status = await schema_status()
        if not status.up_to_date:
            raise RuntimeError("schema out of date")
        return status.as_dict()

    async def jobs() -> dict[str, Any]:
        return await request.app.ctx.jobs.backend.check()

    checks = dict(
        zip(
            ("database", "redis", "migrations", "jobs"),
            await asyncio.gather(_timed(database), _timed(redis), _timed(migrations), _timed(jobs)),
            strict=True,
        )
    )
    healthy = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "version": request.app.ctx.version, "checks": checks}
    return json(body, status=200 if healthy else 503)


@bp.get("/metrics")
@documented(
    summary="Prometheus metrics",
    description="404 when metrics.enabled is false.",
    response=str,
    media="text/plain",
    errors=[404],
    tag="health",
)
async def metrics_route(request: Request) -> HTTPResponse:
    if not request.app.ctx.settings.metrics.enabled:
        from app.errors import RouteNotFound

        raise RouteNotFound("metrics are disabled")
    with contextlib.suppress(Exception):  # the job gauges keep their last values while the database is away
        await refresh_gauges()
    payload, content_type = metrics.render()
    return HTTPResponse(payload, content_type=content_type)
