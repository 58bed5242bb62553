"""A worker's side of the Kafka transport: one consumer in the workers' group, reading its kinds' topics and
the retry topic.

Offsets are committed only after a job's handler finished, and only up to the lowest delivery of its
partition still in flight, so whatever a dead worker had not finished is delivered again to whoever gets its
partitions. When partitions move (a rebalance), deliveries not yet started are withdrawn and running ones get
a while to finish before the partition is let go, so the next owner does not overtake them. Due retries are
moved back to their kind's topic; a retry partition waits (paused) until its next message is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from app.jobs.interface import Delivery, JobMessage

if TYPE_CHECKING:
    from aiokafka.structs import ConsumerRecord

    from app.jobs.kafka_backend import KafkaBackend

log = logging.getLogger("adjutant.jobs")
DUE_HEADER = "due_ms"
FETCH_WAIT_MS = 50
COMMIT_EVERY_S = 0.1
SESSION_MS = (500, 300_000)  # what brokers commonly accept as a session timeout


class Offsets:
    """A partition's deliveries in flight; what may be committed is the lowest one not done."""

    def __init__(self) -> None:
        self.pending: dict[int, KafkaDelivery] = {}
        self.next: int | None = None
        self.committed: int | None = None

    def seen(self, offset: int) -> None:
        self.next = offset + 1 if self.next is None else max(self.next, offset + 1)

    def committable(self) -> int | None:
        return min(self.pending) if self.pending else self.next


class KafkaDelivery:
    def __init__(
        self,
        consumer: KafkaJobConsumer,
        tp: TopicPartition,
        offsets: Offsets,
        record: ConsumerRecord[Any, Any],
        message: JobMessage,
    ) -> None:
        self.consumer = consumer
        self.tp = tp
        self.offsets = offsets
        self.offset = record.offset
        self.message = message
        self.lane = (record.topic, record.key)
        self.started = False
        self.withdrawn = False
        self.finished = asyncio.Event()
        offsets.pending[record.offset] = self
        offsets.seen(record.offset)

    def begin(self) -> bool:
        if self.withdrawn:
            self.finished.set()
            return False
        self.started = True
        return True

    async def done(self) -> None:
        self.offsets.pending.pop(self.offset, None)
        self.consumer.dirty.add(self.tp)
        self.finished.set()

    def abandon(self) -> None:
        self.finished.set()  # left pending: no commit passes it, so it is delivered again


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: KafkaJobConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.consumer.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


class KafkaJobConsumer:
    def __init__(self, backend: KafkaBackend, kinds: Collection[str], worker_id: str) -> None:
        self.backend = backend
        self.topics = [backend.topic(kind) for kind in kinds]
        self.worker_id = worker_id
        settings = backend.settings
        self.session_ms = min(max(int(settings.lease_s * 1000), SESSION_MS[0]), SESSION_MS[1])
        self.poll_ms = settings.poll_ms
        self.offsets: dict[TopicPartition, Offsets] = {}
        self.dirty: set[TopicPartition] = set()
        self.waiting_retries: set[TopicPartition] = set()
        self.consumer: AIOKafkaConsumer | None = None
        self._committed_at = 0.0

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            **self.backend.connection(),
            group_id=self.backend.settings.kafka_group,
            client_id=self.worker_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_ms,
            heartbeat_interval_ms=max(100, self.session_ms // 3),
            rebalance_timeout_ms=self.session_ms * 2,
            request_timeout_ms=max(40_000, self.session_ms + 10_000),
            # Some brokers (Tansu) answer a fetch over many partitions only when this wait is over, not when a
            # message arrives: a job would wait up to this long before it starts.
            fetch_max_wait_ms=min(FETCH_WAIT_MS, self.poll_ms),
        )
        self.consumer.subscribe([*self.topics, self.backend.retry_topic], listener=_Rebalance(self))
        await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is None:
            return
        with contextlib.suppress(Exception):
            await self.commit()
        await self.consumer.stop()  # leaves the group: its partitions go to the others at once
        self.consumer = None

    async def fetch(self, room: int) -> list[Delivery]:
        consumer = self._started()
        if time.monotonic() - self._committed_at >= COMMIT_EVERY_S:
            # Batched: a commit is a round trip, and a job finished but not yet committed only risks a duplicate
            # delivery, which its record turns away.
            self._committed_at = time.monotonic()
            await self.commit()
        jobs = [tp for tp in consumer.assignment() if tp.topic != self.backend.retry_topic]
        if room <= 0:
            consumer.pause(*jobs)  # keep polling (retries, group liveness) without taking jobs
        else:
            consumer.resume(*jobs)
        batch = await consumer.getmany(timeout_ms=self.poll_ms, max_records=max(room, 1))
        taken: list[Delivery] = []
        for tp, records in batch.items():
            if tp.topic == self.backend.retry_topic:
                await self._move_due(tp, records)
                continue
            offsets = self.offsets.setdefault(tp, Offsets())
            for record in records:
                message = JobMessage.decode(record.value)
                if message is None:
                    offsets.seen(record.offset)  # not a job: skipped, and committed past
                    self.dirty.add(tp)
                    continue
                taken.append(KafkaDelivery(self, tp, offsets, record, message))
        return taken

    async def commit(self) -> None:
        """Commit, per partition with progress, up to its lowest delivery not done."""
        consumer = self._started()
        assigned = consumer.assignment()
        commits: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp in list(self.dirty):
            offsets = self.offsets.get(tp)
            position = offsets.committable() if offsets else None
            if tp in assigned and offsets and position is not None and position != offsets.committed:
                commits[tp] = OffsetAndMetadata(position, "")
        if not commits:
            self.dirty.clear()
            return
        try:
            await consumer.commit(commits)
        except Exception as exc:  # noqa: BLE001 - a rebalance is under way: committed after it, or redelivered
            log.debug("worker %s could not commit yet: %s", self.worker_id, exc)
            return
        for tp, position in commits.items():
            self.offsets[tp].committed = position.offset
        self.dirty.clear()

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        """Partitions are moving: withdraw what has not started, give running jobs a while, commit, let go."""
        running = []
        for tp in revoked:
            for delivery in (self.offsets.get(tp) or Offsets()).pending.values():
                if not delivery.started:
                    delivery.withdrawn = True
                elif not delivery.finished.is_set():
                    running.append(asyncio.ensure_future(delivery.finished.wait()))
        if running:
            _, late = await asyncio.wait(running, timeout=self.session_ms / 2000)
            for waiter in late:
                waiter.cancel()
        self.dirty |= {tp for tp in revoked if tp in self.offsets}
        with contextlib.suppress(Exception):
            await self.commit()
        for tp in revoked:
            self.offsets.pop(tp, None)
            self.dirty.discard(tp)
            self.waiting_retries.discard(tp)

    async def _move_due(self, tp: TopicPartition, records: list[ConsumerRecord[Any, Any]]) -> None:
        consumer = self._started()
        moved = None
        for record in records:
            wait_s = _due_ms(record) / 1000 - time.time()
            if wait_s > 0.005:
                consumer.seek(tp, record.offset)
                consumer.pause(tp)
                self.waiting_retries.add(tp)
                asyncio.get_running_loop().call_later(wait_s, self._retry_due, tp)
                break
            message = JobMessage.decode(record.value)
            if message is not None:
                await self.backend.publish(message)
            moved = record.offset + 1
        if moved is not None:
            with contextlib.suppress(Exception):  # not committed: moved again later, a harmless duplicate
                await consumer.commit({tp: OffsetAndMetadata(moved, "")})

    def _retry_due(self, tp: TopicPartition) -> None:
        if tp in self.waiting_retries and self.consumer is not None:
            self.waiting_retries.discard(tp)
            if tp in self.consumer.assignment():
                self.consumer.resume(tp)

    def _started(self) -> AIOKafkaConsumer:
        if self.consumer is None:
            raise RuntimeError("the Kafka job consumer is not started")
        return self.consumer


def _due_ms(record: ConsumerRecord[Any, Any]) -> int:
    for name, value in record.headers or ():
        if name == DUE_HEADER:
            with contextlib.suppress(ValueError):
                return int(value)
    return 0
