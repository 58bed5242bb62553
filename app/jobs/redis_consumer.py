"""A worker's side of the Redis transport: the partitions it leases and reads, and what it reclaims.

Each (kind, partition) stream is read by one worker at a time, the holder of its lease key (SET NX PX, renewed
every third of `jobs.lease_s`). Workers announce themselves per kind and each takes a fair share (partitions
divided by live workers): one over its share stops reading a partition and releases it once nothing it took
from it is running; one under its share takes free partitions. A partition taken over from a dead worker (its
lease ran out) starts with that worker's unacknowledged entries, claimed with XAUTOCLAIM, oldest first, so the
partition's order holds across the takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from app.jobs.interface import Delivery, JobMessage
from app.runtime.tasks import stop_task

if TYPE_CHECKING:
    from app.jobs.redis_backend import RedisBackend

log = logging.getLogger("adjutant.jobs")
GROUP = "workers"
FIELD = b"m"
RECLAIM_BATCH = 100
MOVE_EVERY_S = 0.05  # due retries are moved this often at most: their precision is not worth a round trip a job
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass(eq=False)
class Partition:
    kind: str
    number: int
    stream: str
    lease: str
    active: bool = True  # read from; False once it is being released or was lost
    held: set[RedisDelivery] = field(default_factory=set)  # taken from it and not yet done, abandoned or withdrawn
    backlog: list[RedisDelivery] = field(default_factory=list)  # reclaimed at takeover, delivered before new ones

    def withdraw(self) -> None:
        """Stop reading; what was taken but not started is left pending for the next owner."""
        self.active = False
        self.backlog.clear()
        for delivery in list(self.held):
            if not delivery.started:
                delivery.withdrawn = True


class RedisDelivery:
    def __init__(self, consumer: RedisConsumer, partition: Partition, entry_id: bytes, message: JobMessage) -> None:
        self.consumer = consumer
        self.partition = partition
        self.entry_id = entry_id
        self.message = message
        self.lane = (partition.stream, message.team_id)
        self.started = False
        self.withdrawn = False
        partition.held.add(self)

    def begin(self) -> bool:
        if self.withdrawn:
            self.partition.held.discard(self)
            return False
        self.started = True
        return True

    async def done(self) -> None:
        try:
            await self.consumer.redis.xack(self.partition.stream, GROUP, self.entry_id)
        finally:
            self.partition.held.discard(self)

    def abandon(self) -> None:
        self.partition.held.discard(self)


class RedisConsumer:
    def __init__(self, backend: RedisBackend, kinds: Collection[str], worker_id: str) -> None:
        self.backend = backend
        self.redis = backend.redis
        self.kinds = list(kinds)
        self.worker_id = worker_id
        settings = backend.settings
        self.partitions = settings.partitions
        self.lease_ms = max(1, int(settings.lease_s * 1000))
        self.poll_ms = settings.poll_ms
        self.owned: dict[str, Partition] = {}
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._balancer: asyncio.Task[None] | None = None
        self._moved_at = 0.0
        self._stopped = asyncio.Event()

    def _members(self, kind: str) -> str:
        return f"{self.backend.prefix}jobs:members:{kind}"

    def _lease(self, kind: str, number: int) -> str:
        return f"{self.backend.prefix}jobs:lease:{kind}:{number}"

    async def start(self) -> None:
        await self.balance()
        self._balancer = asyncio.create_task(self._balance_forever(), name="jobs-partitions")

    async def stop(self) -> None:
        self._stopped.set()
        if self._balancer is not None:
            await asyncio.wait({self._balancer}, timeout=5)  # it ends at its next pause, never mid-command
            await stop_task(self._balancer)
        with contextlib.suppress(Exception):
            pipe = self.redis.pipeline(transaction=False)
            for partition in self.owned.values():
                await self._release(keys=[partition.lease], args=[self.worker_id], client=pipe)
            for kind in self.kinds:
                pipe.zrem(self._members(kind), self.worker_id)
            await pipe.execute()
        self.owned.clear()

    # --- reading -----------------------------------------------------------------------------------------

    async def fetch(self, room: int) -> list[Delivery]:
        now = time.monotonic()
        if now - self._moved_at >= MOVE_EVERY_S:
            self._moved_at = now
            await self.backend.move_due()
        taken: list[Delivery] = []
        for partition in self.owned.values():
            if partition.active and partition.backlog:
                taken.extend(partition.backlog)
                partition.backlog = []
        streams = {p.stream: ">" for p in self.owned.values() if p.active}
        if room - len(taken) <= 0:
            return taken  # the worker waits for room itself
        if not streams:
            if not taken:
                await asyncio.sleep(self.poll_ms / 1000)
            return taken
        try:
            reply = await self.redis.xreadgroup(
                GROUP, self.worker_id, streams, count=room - len(taken), block=self.poll_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            for partition in self.owned.values():  # the stream was deleted under us (a flushed Redis)
                await self._ensure_group(partition.stream)
            return taken
        for stream, entries in reply or []:
            partition = self.owned.get(stream.decode() if isinstance(stream, bytes) else stream)
            for entry_id, fields in entries:
                delivery = await self._delivery(partition, entry_id, fields) if partition else None
                if delivery is not None:
                    taken.append(delivery)
        return taken

    async def _delivery(self, partition: Partition, entry_id: bytes, fields: Any) -> RedisDelivery | None:
        message = JobMessage.decode(fields.get(FIELD, b"")) if fields else None
        if message is None:  # trimmed away while pending, or not ours to read: nothing to run
            await self.redis.xack(partition.stream, GROUP, entry_id)
            return None
        return RedisDelivery(self, partition, entry_id, message)

    async def _ensure_group(self, stream: str) -> None:
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)

    # --- partitions --------------------------------------------------------------------------------------

    async def _balance_forever(self) -> None:
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.lease_ms / 3000)
                return
            try:
                await self.balance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - leases have slack for a missed round
                log.warning("worker %s could not renew its partitions: %s", self.worker_id, exc)

    async def balance(self) -> None:
        """Announce this worker, keep its leases, and move towards its fair share of each kind's partitions."""
        seconds, micros = await self.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        pipe = self.redis.pipeline(transaction=False)
        for kind in self.kinds:
            pipe.zadd(self._members(kind), {self.worker_id: now_ms + self.lease_ms})
            pipe.zremrangebyscore(self._members(kind), "-inf", now_ms)
            pipe.zcard(self._members(kind))
        replies = await pipe.execute()
        live = {kind: max(1, int(replies[3 * i + 2])) for i, kind in enumerate(self.kinds)}
        await self._renew_all()
        for kind in self.kinds:
            await self._rebalance(kind, math.ceil(self.partitions / live[kind]))

    async def _renew_all(self) -> None:
        partitions = list(self.owned.values())
        if not partitions:
            return
        pipe = self.redis.pipeline(transaction=False)
        for partition in partitions:
            await self._renew(keys=[partition.lease], args=[self.worker_id, self.lease_ms], client=pipe)
        for partition, kept in zip(partitions, await pipe.execute(), strict=True):
            if not kept:
                log.warning("worker %s lost partition %s (its lease ran out)", self.worker_id, partition.stream)
                partition.withdraw()
                self.owned.pop(partition.stream, None)

    async def _rebalance(self, kind: str, share: int) -> None:
        mine = [p for p in self.owned.values() if p.kind == kind]
        active = sorted((p for p in mine if p.active), key=lambda p: len(p.held))
        for partition in active[: max(0, len(active) - share)]:
            partition.withdraw()
        for partition in mine:
            if not partition.active and not partition.held:
                await self._release(keys=[partition.lease], args=[self.worker_id])
                self.owned.pop(partition.stream, None)
        need = share - sum(1 for p in self.owned.values() if p.kind == kind and p.active)
        if need <= 0:
            return
        owned_numbers = {p.number for p in self.owned.values() if p.kind == kind}
        candidates = [n for n in range(self.partitions) if n not in owned_numbers]
        pipe = self.redis.pipeline(transaction=False)
        for number in candidates:
            pipe.exists(self._lease(kind, number))
        free = [n for n, taken in zip(candidates, await pipe.execute(), strict=True) if not taken]
        random.shuffle(free)
        for number in free:
            if need <= 0:
                break
            if await self.redis.set(self._lease(kind, number), self.worker_id, nx=True, px=self.lease_ms):
                await self._take(kind, number)
                need -= 1

    async def _take(self, kind: str, number: int) -> None:
        partition = Partition(kind, number, self.backend.stream(kind, number), self._lease(kind, number))
        await self._ensure_group(partition.stream)
        start: Any = "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                partition.stream, GROUP, self.worker_id, 0, start_id=start, count=RECLAIM_BATCH
            )
            start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                delivery = await self._delivery(partition, entry_id, fields)
                if delivery is not None:
                    partition.backlog.append(delivery)
            if start in (b"0-0", "0-0") or not entries:
                break
        if partition.backlog:
            log.info(
                "worker %s took over %s with %d unfinished entr%s",
                self.worker_id,
                partition.stream,
                len(partition.backlog),
                "y" if len(partition.backlog) == 1 else "ies",
            )
        self.owned[partition.stream] = partition
