"""The job suite, run against each backend (Redis Streams and a real Kafka-protocol broker): the same
interface must give the same guarantees on both."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from tortoise import Tortoise

from app.db.models import JobRecord, Schedule
from app.db.repositories import jobs as store
from app.jobs.queue import message_of
from tests.jobs.conftest import JobSuite, eventually
from tests.jobs.kinds import DEAD, EFFECTS, runs


async def status(job_id: int) -> JobRecord:
    return await JobRecord.get(id=job_id)


async def settled(job_id: int, wanted: str = "SUCCEEDED", timeout_s: float = 10.0) -> JobRecord:
    async def reached() -> JobRecord | None:
        job = await status(job_id)
        return job if job.status == wanted else None

    return await eventually(reached, timeout_s)


async def test_a_teams_jobs_run_in_order_while_other_teams_run_beside_them(suite: JobSuite):
    teams = [await suite.team("a"), await suite.team("b")]
    jobs = []
    for seq in range(6):
        for team in teams:
            jobs.append(await suite.queue.enqueue("test.record", {"seq": seq, "sleep_s": 0.04}, None, team))
    # Two workers that start one after the other: the partitions move between them while jobs run.
    await suite.start_worker(concurrency=4)
    await asyncio.sleep(0.1)
    await suite.start_worker(concurrency=4)
    for job in jobs:
        await settled(job.id, timeout_s=20)
    done = await runs(suite.redis)
    assert len(done) == 12, done
    for team in teams:
        mine = sorted((r for r in done if r["team"] == team), key=lambda r: r["start"])
        assert [r["seq"] for r in mine] == list(range(6)), mine
        assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(mine)), "one at a time"
    overlapped = any(
        a["start"] < b["end"] and b["start"] < a["end"]
        for a in done
        if a["team"] == teams[0]
        for b in done
        if b["team"] == teams[1]
    )
    assert overlapped, "one team's jobs do not wait for another team's"


async def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(suite: JobSuite):
    team = await suite.team("a")
    await suite.start_worker()
    job = await suite.queue.enqueue("test.flaky", {"failures": 2}, None, team)
    done = await settled(job.id)
    assert done.attempts == 3 and "attempt 2 failed on purpose" in done.last_error
    starts = [r["start"] for r in await runs(suite.redis)]
    assert len(starts) == 3
    # The backoff waits at least half its ceiling: 25 ms after the first failure, 50 ms after the second.
    assert starts[1] - starts[0] >= 0.025 and starts[2] - starts[1] >= 0.05, starts


async def test_a_job_dies_when_its_attempts_run_out_or_no_retry_can_help(suite: JobSuite):
    team = await suite.team("a")
    doomed = await suite.queue.enqueue("test.doomed", {}, None, team)  # fails every attempt
    hopeless = await suite.queue.enqueue("test.hopeless", {}, None, team)  # fails for good at once
    slow = await suite.queue.enqueue("test.timeout", {"sleep_s": 5}, None, team)  # overruns its 0.2 s
    killer = await suite.queue.enqueue("test.effect", {}, None, team)
    # As the last of its workers left it when it died mid-job: every attempt started, the lease run out.
    await Tortoise.get_connection("default").execute_query(
        "UPDATE jobs SET status = 'RUNNING', attempts = max_attempts, worker = 'gone', "
        "lease_until = now() - interval '1 minute' WHERE id = $1",
        [killer.id],
    )
    started = time.monotonic()
    await suite.start_worker()
    buried = await settled(killer.id, "DEAD")
    assert buried.last_error.startswith("its worker stopped 3 times before the job finished")
    dead = await settled(doomed.id, "DEAD")
    assert dead.attempts == 3 and "s3cr3t" not in dead.last_error
    assert dead.last_error == "ConnectionError: cannot reach https://***@git.example.com/shop.git"
    assert ((await settled(hopeless.id, "DEAD")).attempts, (await status(hopeless.id)).last_error) == (
        1,
        "the repository is gone",
    )
    timed_out = await settled(slow.id, "DEAD")
    assert timed_out.last_error == "timed out after 0.2 s" and time.monotonic() - started < 5
    recorded = await runs(suite.redis)
    # The overrun was stopped before it could record its run; the job whose workers died is not run again.
    assert sorted(r["job"] for r in recorded) == sorted([doomed.id] * 3 + [hopeless.id])
    assert await eventually(lambda: _dead_hooks(suite, 4)), "each kind's dead hook ran once per job"
    assert await eventually(lambda: _dead_letters(suite, 4))
    await asyncio.sleep(0.3)  # nothing comes back from the dead
    assert len(await runs(suite.redis)) == 4


async def _dead_hooks(suite: JobSuite, count: int) -> bool:
    return await suite.redis.llen(DEAD) == count


async def _dead_letters(suite: JobSuite, count: int) -> bool:
    return await suite.backend.dead_letters() == count


@pytest.mark.parametrize("backend_name", ["redis"])  # the limit is the worker's, whatever the backend
async def test_a_kinds_concurrency_limit_holds(suite: JobSuite):
    teams = [await suite.team(f"t{n}") for n in range(6)]
    for team in teams:  # six teams: nothing orders them, only the kind's limit of 2 holds them back
        await suite.queue.enqueue("test.limited", {"sleep_s": 0.15}, None, team)
    await suite.start_worker(concurrency=8)
    await eventually(lambda: _count_runs(suite, 6), 15)
    done = await runs(suite.redis)
    peak = max(sum(1 for b in done if b["start"] <= a["start"] < b["end"]) for a in done)
    assert peak == 2, done


async def _count_runs(suite: JobSuite, count: int) -> bool:
    return len(await runs(suite.redis)) >= count


async def test_a_key_that_succeeded_is_never_run_again_and_a_lost_message_is_swept_up(suite: JobSuite):
    team, other = await suite.team("a"), await suite.team("b")
    # Recorded, but never handed to the transport (its process died in between): the sweep hands it over.
    lost, _ = await store.insert_or_get(
        team_id=team, kind="test.record", payload={"seq": 0}, idempotency_key="lost", max_attempts=2
    )
    await suite.start_worker()
    first = await suite.queue.enqueue("test.record", {"seq": 1}, "delivery-42", team)
    again = await suite.queue.enqueue("test.record", {"seq": 2}, "delivery-42", team)
    assert again.id == first.id
    await settled(first.id)
    later = await suite.queue.enqueue("test.record", {"seq": 3}, "delivery-42", team)
    await suite.backend.publish(message_of(later))  # a duplicate delivery of the finished job
    elsewhere = await suite.queue.enqueue("test.record", {"seq": 4}, "delivery-42", other)  # keys are per team
    await settled(elsewhere.id)
    await settled(lost.id, timeout_s=5)
    await asyncio.sleep(0.2)
    assert later.id == first.id and elsewhere.id != first.id
    assert sorted(r["seq"] for r in await runs(suite.redis)) == [0, 1, 4]
    assert (await status(first.id)).attempts == 1


async def test_each_tick_fires_once_however_many_workers_run_and_missed_ticks_fire_once(suite: JobSuite):
    team = await suite.team("a")
    add = partial(suite.schedules.add, team, kind="test.tick", payload={"label": "x"})
    nightly = await add(name="nightly", cron="0 3 * * *", time_zone_name="Europe/Berlin")
    minutely = await add(name="minutely", cron="* * * * *", time_zone_name="UTC")
    # Thirty ticks of `minutely` passed while no worker ran.
    await _due(minutely.id, datetime.now(UTC) - timedelta(minutes=30))
    await asyncio.gather(*(suite.start_worker(schedules=suite.schedules, concurrency=2) for _ in range(2)))
    await eventually(partial(_count_runs, suite, 1), 5)
    ticks = []
    for back in (3, 2, 1):  # three ticks of `nightly` come due one after the other
        ticks.append(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=back))
        await _due(nightly.id, ticks[-1])
        await eventually(partial(_count_runs, suite, 1 + len(ticks)), 5)
    await asyncio.sleep(0.3)  # both workers polled many times since
    jobs = await JobRecord.filter(kind="test.tick").order_by("id")
    fired = [j.idempotency_key for j in jobs if j.idempotency_key.startswith(f"schedule:{nightly.id}:")]
    assert fired == [f"schedule:{nightly.id}:{t.isoformat()}" for t in ticks]
    assert sum(1 for j in jobs if j.idempotency_key.startswith(f"schedule:{minutely.id}:")) == 1
    assert all(j.status == "SUCCEEDED" and j.attempts == 1 for j in jobs) and len(jobs) == 4
    assert len(await runs(suite.redis)) == 4, "each tick ran once"
    next_minute = (await Schedule.get(id=minutely.id)).next_run_at
    now = datetime.now(UTC)
    assert now < next_minute <= now + timedelta(minutes=1) and next_minute.second == 0, "counted on from now"


async def _due(schedule_id: int, tick: datetime) -> None:
    await Tortoise.get_connection("default").execute_query(
        "UPDATE schedules SET next_run_at = $2 WHERE id = $1", [schedule_id, tick]
    )


async def test_draining_finishes_running_jobs_and_leaves_the_rest_for_another_worker(suite: JobSuite):
    a, b = await suite.team("a"), await suite.team("b")
    short = await suite.queue.enqueue("test.slow", {"sleep_s": 0.3, "seq": 1}, None, a)
    behind = await suite.queue.enqueue("test.slow", {"sleep_s": 0.3, "seq": 2}, None, a)  # waits for `short`
    long = await suite.queue.enqueue("test.slow", {"sleep_s": 30, "seq": 3}, None, b)
    worker = await suite.start_worker(concurrency=4)
    await eventually(lambda: _both_running(short.id, long.id), 10)
    await suite.stop_worker(worker, drain_s=1.0)
    assert (await status(short.id)).status == "SUCCEEDED", "a job that could finish did"
    released = await status(long.id)
    assert (released.status, released.attempts, released.worker) == ("QUEUED", 0, None), "released, uncounted"
    assert (await status(behind.id)).status == "QUEUED", "not started, left queued"
    await suite.redis.set("test:fast", b"1")
    await suite.start_worker()
    assert (await settled(long.id)).attempts == 1
    assert (await settled(behind.id)).attempts == 1
    seqs = [r["seq"] for r in await runs(suite.redis)]
    assert sorted(seqs) == [1, 2, 3] and seqs.index(1) < seqs.index(2)


async def _both_running(*job_ids: int) -> bool:
    return await JobRecord.filter(id__in=job_ids, status="RUNNING").count() == len(job_ids)


async def test_a_job_whose_worker_is_killed_runs_again_elsewhere_without_doubling_its_effect(suite: JobSuite):
    team = await suite.team("a")
    job = await suite.queue.enqueue("test.effect", {"hang_first": True}, "kill-me", team)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.jobs.worker_process",
        cwd=Path(__file__).resolve().parents[2],
        env={
            **os.environ,
            "DATABASE_URL": suite.settings.database.url,
            "REDIS_URL": suite.settings.redis.url,
            "SUITE_JOBS_SETTINGS": suite.settings.jobs.model_dump_json(),
        },
        stdout=subprocess.DEVNULL,
    )
    try:
        first = await eventually(lambda: _run_in(suite, child.pid), 30)
        assert (first["job"], first["attempt"]) == (job.id, 1)
        os.kill(child.pid, signal.SIGKILL)  # mid-job: its lease, its partitions and its message are left behind
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
    assert (await status(job.id)).status == "RUNNING"
    await suite.start_worker()
    done = await settled(job.id, timeout_s=15)
    assert done.attempts == 2, "the second attempt, on the surviving worker"
    assert [(r["attempt"], r["pid"]) for r in await runs(suite.redis)] == [(1, child.pid), (2, os.getpid())]
    assert await suite.redis.get(EFFECTS) == b"1", "the idempotent effect happened once"


async def _run_in(suite: JobSuite, pid: int) -> dict | None:
    return next((r for r in await runs(suite.redis) if r["pid"] == pid), None)
