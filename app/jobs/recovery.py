"""The sweep that makes a recorded job impossible to lose: a job that could start but was not handed to the
transport for a while (its message was lost: a transport outage, a crash between recording and handing over,
a trimmed stream, a worker that died holding it) is handed over again. Duplicates are harmless: a record
runs only when it can be claimed. The same sweep deletes jobs finished longer ago than they are kept."""

from __future__ import annotations

import logging

from app.db.repositories import jobs as store
from app.jobs.interface import JobBackend, JobMessage

log = logging.getLogger("adjutant.jobs")
BATCH = 500


async def hand_over_undelivered(backend: JobBackend, redeliver_after_s: float) -> int:
    """Hand over each job that has waited undelivered longer than `redeliver_after_s`; how many there were."""
    rows = await store.undelivered(redeliver_after_s, BATCH)
    for row in rows:
        await backend.publish(JobMessage(job_id=row["id"], kind=row["kind"], team_id=row["team_id"]))
    if rows:
        log.info("handed %d undelivered job(s) to %s again", len(rows), backend.name)
    return len(rows)


async def forget_finished(succeeded_days: int, dead_days: int) -> int:
    """Delete a batch of jobs finished longer ago than they are kept."""
    return await store.forget_finished(succeeded_days, dead_days, BATCH)
