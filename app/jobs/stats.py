"""The job gauges on /metrics, read from the job records when scraped: the same answer from any process,
whichever backend carries the jobs."""

from __future__ import annotations

from app.db.repositories import jobs as store
from app.runtime import metrics

_seen: set[str] = set()  # kinds shown before: a kind whose jobs all finished reads 0, not its last value


async def refresh_gauges() -> None:
    depth: dict[str, int] = {}
    running: dict[str, int] = {}
    dead: dict[str, int] = {}
    for row in await store.counts():
        target = running if row["status"] == "RUNNING" else dead if row["status"] == "DEAD" else depth
        target[row["kind"]] = target.get(row["kind"], 0) + row["n"]
    _seen.update(depth, running, dead)
    for kind in _seen:
        metrics.JOBS_QUEUE_DEPTH.labels(kind).set(depth.get(kind, 0))
        metrics.JOBS_RUNNING.labels(kind).set(running.get(kind, 0))
        metrics.JOBS_DEAD_LETTERS.labels(kind).set(dead.get(kind, 0))
