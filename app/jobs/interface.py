"""The job interface: what a handler sees, how a kind of job is declared, and what a transport must provide.

A transport (Redis Streams or Kafka) carries only a `JobMessage` (the job's id, kind and team); the job
itself is its record in PostgreSQL. Delivery is at least once: a message may arrive twice, and the record
decides whether it still runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from app.jobs.backoff import Backoff

JobStatus = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD"]
# Kinds name Kafka topics and Redis keys: lowercase words joined by dots.
KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
KIND_MAX = 100


@dataclass(frozen=True)
class Job:
    """One attempt at a job, as its handler sees it. Handlers must be idempotent: an attempt may run again
    after its worker died, so an effect must be keyed (by `id` or `idempotency_key`) to happen once."""

    id: int
    kind: str
    team_id: int
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    idempotency_key: str


# A handler may return a small JSON object, kept on the record as the job's result.
Handler = Callable[[Job], Awaitable[dict[str, Any] | None]]
# Told the job (its last attempt) and why it died; records the failure where the job's owner looks.
DeadHook = Callable[[Job, str], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    max_attempts: int
    timeout_s: float
    concurrency: int  # attempts of this kind one worker runs at once
    backoff: Backoff
    on_dead: DeadHook | None = None
    # Whether a team may schedule it; its payload then comes from a client and is checked by `payload_model`.
    schedulable: bool = False
    payload_model: type[BaseModel] | None = None


@dataclass(frozen=True)
class KindDefaults:
    max_attempts: int = 5
    timeout_s: float = 600.0
    concurrency: int = 4
    backoff: Backoff = field(default_factory=Backoff)


class JobHandlers:
    """The registry of job kinds: each kind has one handler and its own attempt cap, timeout, concurrency
    limit and backoff. Every process registers the same kinds (enqueueing checks them); a worker runs a subset."""

    def __init__(self, defaults: KindDefaults | None = None) -> None:
        self.defaults = defaults or KindDefaults()
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        name: str,
        handler: Handler,
        *,
        max_attempts: int | None = None,
        timeout_s: float | None = None,
        concurrency: int | None = None,
        backoff: Backoff | None = None,
        on_dead: DeadHook | None = None,
        schedulable: bool = False,
        payload_model: type[BaseModel] | None = None,
    ) -> JobKind:
        if not KIND_NAME.match(name) or len(name) > KIND_MAX:
            raise ValueError(f"job kind {name!r} must be lowercase words joined by dots, at most {KIND_MAX} chars")
        if name in self._kinds:
            raise ValueError(f"job kind {name!r} is registered twice")
        kind = JobKind(
            name=name,
            handler=handler,
            max_attempts=max_attempts or self.defaults.max_attempts,
            timeout_s=timeout_s or self.defaults.timeout_s,
            concurrency=concurrency or self.defaults.concurrency,
            backoff=backoff or self.defaults.backoff,
            on_dead=on_dead,
            schedulable=schedulable,
            payload_model=payload_model,
        )
        if kind.max_attempts < 1 or kind.timeout_s <= 0 or kind.concurrency < 1:
            raise ValueError(f"job kind {name!r} needs max_attempts >= 1, timeout_s > 0 and concurrency >= 1")
        self._kinds[name] = kind
        return kind

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def schedulable(self) -> list[str]:
        return sorted(name for name, kind in self._kinds.items() if kind.schedulable)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


@dataclass(frozen=True)
class JobMessage:
    """What a transport carries: enough to route the job (its kind, its team's partition) and find its record."""

    job_id: int
    kind: str
    team_id: int

    def encode(self) -> bytes:
        return json.dumps({"job": self.job_id, "kind": self.kind, "team": self.team_id}).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> JobMessage | None:
        """The message, or None for anything that is not one (it is dropped, never retried)."""
        try:
            data = json.loads(raw)
            message = cls(job_id=data["job"], kind=data["kind"], team_id=data["team"])
        except (ValueError, TypeError, KeyError):
            return None
        if not (isinstance(message.job_id, int) and isinstance(message.team_id, int) and isinstance(message.kind, str)):
            return None
        return message


class Delivery(Protocol):
    """One message handed to a worker. Deliveries with equal `lane` run one after another, in order."""

    message: JobMessage
    lane: Hashable

    def begin(self) -> bool:
        """Called before running it: False when it was withdrawn (its partition moved to another worker)."""
        ...

    async def done(self) -> None:
        """It was handled (whatever the outcome): it is not delivered again."""
        ...

    def abandon(self) -> None:
        """It was not handled (shutdown): it stays for another worker."""
        ...


class Consumer(Protocol):
    """A worker's side of a transport, for the kinds it runs."""

    async def start(self) -> None: ...

    async def fetch(self, room: int) -> list[Delivery]:
        """Up to about `room` new deliveries, waiting at most the poll interval for some."""
        ...

    async def stop(self) -> None:
        """Leave: what this worker did not finish goes to the others."""
        ...


class JobBackend(Protocol):
    name: str

    async def start(self, kinds: Collection[str]) -> None:
        """Connect for publishing the given kinds (creating what they need, such as topics)."""
        ...

    async def stop(self) -> None: ...

    async def publish(self, message: JobMessage) -> None: ...

    async def publish_later(self, message: JobMessage, delay_s: float) -> None:
        """Deliver the message after `delay_s` (a retry's backoff)."""
        ...

    async def publish_dead(self, message: JobMessage, error: str) -> None:
        """Append the message to the dead-letter stream or topic."""
        ...

    def consumer(self, kinds: Collection[str], worker_id: str) -> Consumer: ...

    async def check(self) -> dict[str, Any]:
        """Raise if the transport cannot be reached; otherwise a few facts for /health."""
        ...

    async def dead_letters(self) -> int:
        """How many messages the dead-letter stream or topic holds."""
        ...
