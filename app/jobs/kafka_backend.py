"""Jobs on Kafka (any broker speaking its protocol): one topic per kind, a delayed-retry topic and a
dead-letter topic, every worker in one consumer group.

Messages are keyed by team, so a team's jobs of a kind share a partition and keep their order. Retries go to
`<prefix>jobs.retry` with their due time in a header; workers hold them there until due and then move them
back to their kind's topic. The producer is plain (no idempotence, no transactions: not every broker offers
them, and a duplicate is harmless because a record runs only when claimed).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Collection
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.jobs.interface import JobMessage
from app.jobs.kafka_consumer import DUE_HEADER, KafkaJobConsumer
from app.runtime.settings import JobsSettings

log = logging.getLogger("adjutant.jobs")
TOPIC_EXISTS = 36  # the broker's TOPIC_ALREADY_EXISTS error code


class KafkaBackend:
    name = "kafka"

    def __init__(self, settings: JobsSettings) -> None:
        self.settings = settings
        self.retry_topic = f"{settings.kafka_topic_prefix}jobs.retry"
        self.dead_topic = f"{settings.kafka_topic_prefix}jobs.dead"
        self._producer: AIOKafkaProducer | None = None

    def topic(self, kind: str) -> str:
        return f"{self.settings.kafka_topic_prefix}jobs.{kind}"

    def connection(self) -> dict[str, Any]:
        """What every client of ours passes to connect: brokers, and TLS or SASL as configured."""
        settings = self.settings
        options: dict[str, Any] = {
            "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
            "security_protocol": settings.kafka_security_protocol,
        }
        if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = ssl.create_default_context()
        if settings.kafka_security_protocol.startswith("SASL"):
            options |= {
                "sasl_mechanism": settings.kafka_sasl_mechanism,
                "sasl_plain_username": settings.kafka_sasl_username,
                "sasl_plain_password": settings.kafka_sasl_password,
            }
        return options

    async def start(self, kinds: Collection[str]) -> None:
        await self.ensure_topics([self.topic(kind) for kind in kinds] + [self.retry_topic, self.dead_topic])
        self._producer = AIOKafkaProducer(
            **self.connection(), client_id="adjutant", acks="all", enable_idempotence=False, linger_ms=0
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self, topics: list[str]) -> None:
        admin = AIOKafkaAdminClient(**self.connection(), client_id="adjutant-admin")
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t not in existing]
            if not missing:
                return
            reply = await admin.create_topics(
                [
                    NewTopic(
                        t,
                        num_partitions=self.settings.partitions,
                        replication_factor=self.settings.kafka_replication_factor,
                    )
                    for t in missing
                ]
            )
            for name, code, *detail in reply.topic_errors:
                if code not in (0, TOPIC_EXISTS):  # another worker creating it at once is fine
                    raise RuntimeError(f"could not create topic {name}: error {code} {detail}")
            log.info("created topics %s", ", ".join(missing))
        finally:
            await admin.close()

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the Kafka job backend is not started")
        return self._producer

    async def publish(self, message: JobMessage) -> None:
        await self._started().send_and_wait(
            self.topic(message.kind), message.encode(), key=str(message.team_id).encode()
        )

    async def publish_later(self, message: JobMessage, delay_s: float) -> None:
        due_ms = int((time.time() + max(0.0, delay_s)) * 1000)
        await self._started().send_and_wait(
            self.retry_topic,
            message.encode(),
            key=str(message.team_id).encode(),
            headers=[(DUE_HEADER, str(due_ms).encode())],
        )

    async def publish_dead(self, message: JobMessage, error: str) -> None:
        await self._started().send_and_wait(
            self.dead_topic,
            message.encode(),
            key=str(message.team_id).encode(),
            headers=[("error", error.encode()[:4000])],
        )

    def consumer(self, kinds: Collection[str], worker_id: str) -> KafkaJobConsumer:
        return KafkaJobConsumer(self, kinds, worker_id)

    async def check(self) -> dict[str, Any]:
        metadata = await self._started().client.fetch_all_metadata()
        return {"backend": self.name, "brokers": len(metadata.brokers())}

    async def dead_letters(self) -> int:
        reader = AIOKafkaConsumer(**self.connection(), client_id="adjutant-dead-letters")
        await reader.start()
        try:
            await reader.topics()  # loads the metadata partitions_for_topic reads
            tps = [TopicPartition(self.dead_topic, p) for p in reader.partitions_for_topic(self.dead_topic) or ()]
            if not tps:
                return 0
            ends, starts = await reader.end_offsets(tps), await reader.beginning_offsets(tps)
            return sum(ends[tp] - starts[tp] for tp in tps)
        finally:
            await reader.stop()
