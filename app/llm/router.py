"""Routing a model call: budget check, retries with backoff and jitter, fallback routes and models,
timeouts, cancellation, and the rule that a failure after output started is an error event, never an end.

Before the first event of a call nothing has reached the user, so a retryable failure (throttling,
overload, 5xx, connection loss, a silent provider) is retried on the same route, then on the model's other
routes, then on its fallback models. Once an event has been yielded there is no silent switch: a later
failure ends the stream with an `ErrorEvent`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.llm.errors import InputTokenLimitExceeded, LLMError, LLMTimeout, ProviderError, Throttled, to_event
from app.llm.providers.base import ModelCall, Provider, collect
from app.llm.registry import ModelRegistry, RegisteredModel
from app.llm.tokens import estimate_request
from app.llm.types import LLMEvent, LLMRequest, LLMResponse, RouteEvent
from app.runtime.settings import ModelRoute, RouterSettings

log = logging.getLogger("adjutant.llm")
# A route that rejects our credentials or does not know the model: try the next route, do not retry.
ROUTE_PROBLEM_STATUSES = {401, 403, 404}


class LLMRouter:
    """Every model call goes through here: the input budget is checked first, then the model's routes and
    its fallback chain are tried in order, retrying `retryable` failures with backoff until output starts.
    After the first event, a failure is reported in-band as an `ErrorEvent`, never as a normal finish."""

    def __init__(
        self,
        registry: ModelRegistry,
        providers: Callable[[ModelRoute], Provider],
        policy: RouterSettings,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.registry = registry
        self.providers = providers
        self.policy = policy
        self.sleep = sleep
        self.jitter = jitter

    async def input_tokens(self, model: RegisteredModel, request: LLMRequest) -> int:
        provider = self.providers(model.routes[0])
        counted = await provider.count_tokens(ModelCall(request, model, model.routes[0]))
        return counted if counted is not None else await estimate_request(request)

    async def check_budget(self, model: RegisteredModel, request: LLMRequest) -> int:
        """Raise `InputTokenLimitExceeded` before any provider call if the input cannot fit."""
        tokens = await self.input_tokens(model, request)
        if tokens > model.spec.input_token_limit:
            raise InputTokenLimitExceeded(
                tokens, model.spec.input_token_limit, model=model.name, provider=model.routes[0].provider
            )
        return tokens

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        """Stream the answer: a `RouteEvent` naming who answers, then the provider's events."""
        chain = self.registry.fallback_chain(request.model)
        primary = chain[0]
        await self.check_budget(primary, request)
        failures: list[LLMError] = []
        for model in chain:
            if model is not primary and not await self._fits(model, request):
                continue
            for route in model.routes:
                call = ModelCall(request.model_copy(update={"model": model.name}), model, route)
                opened = await self._open(call, failures)
                if opened is None:
                    continue
                stream, first, attempts = opened
                yield RouteEvent(
                    model=model.name,
                    provider=route.provider,
                    attempts=attempts,
                    fallback_from=primary.name if model is not primary else None,
                )
                async for event in self._relay(call, stream, first):
                    yield event
                return
        raise summarize(failures, primary)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """A whole answer through the same routing (an error after output started raises)."""
        return await collect(self.stream(request))

    async def _fits(self, model: RegisteredModel, request: LLMRequest) -> bool:
        try:
            await self.check_budget(model, request)
        except InputTokenLimitExceeded:
            return False
        return True

    async def _open(
        self, call: ModelCall, failures: list[LLMError]
    ) -> tuple[AsyncIterator[LLMEvent], LLMEvent, int] | None:
        """Start the call and wait for its first event, retrying retryable failures on this route."""
        provider = self.providers(call.route)
        for attempt in range(self.policy.max_retries + 1):
            stream = provider.stream(call)
            try:
                async with asyncio.timeout(self.policy.first_event_timeout_s):
                    first = await anext(stream)
                return stream, first, attempt + 1
            except StopAsyncIteration:
                error: LLMError = ProviderError("the provider returned an empty stream", retryable=True)
            except TimeoutError:
                error = LLMTimeout(f"no output within {self.policy.first_event_timeout_s:.0f} s")
            except LLMError as exc:
                error = exc
            except Exception as exc:
                log.exception("adapter %s failed", provider.name)
                error = ProviderError(f"{exc.__class__.__name__}: {exc}", retryable=False)
            await stream.aclose()
            error.located(model=call.model.name, provider=call.route.provider)
            failures.append(error)
            log.warning(
                "model call failed before output",
                extra={
                    "model": call.model.name,
                    "provider": call.route.provider,
                    "attempt": attempt + 1,
                    "error_kind": error.kind,
                    "error": error.message,
                },
            )
            if isinstance(error, InputTokenLimitExceeded):
                raise error
            if not error.retryable:
                if getattr(error, "status", None) in ROUTE_PROBLEM_STATUSES:
                    return None  # next route
                raise error
            delay = self._delay(attempt, error)
            if delay is None or attempt == self.policy.max_retries:
                return None  # this route is exhausted; the caller moves on
            await self.sleep(delay)
        return None

    def _delay(self, attempt: int, error: LLMError) -> float | None:
        """Full-jitter exponential backoff; a provider's Retry-After is honoured if it is short enough."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.policy.max_retry_after_s:
                return None  # waiting here would stall the user; try another route now
            return retry_after + self.jitter() * 0.1
        ceiling = min(self.policy.backoff_max_s, self.policy.backoff_initial_s * 2**attempt)
        return self.jitter() * ceiling

    async def _relay(
        self, call: ModelCall, stream: AsyncIterator[LLMEvent], first: LLMEvent
    ) -> AsyncIterator[LLMEvent]:
        """Pass events through; any failure from here on becomes one terminal error event."""
        clock = StreamClock(self.policy.idle_timeout_s, self.policy.call_timeout_s)
        try:
            yield first
            while True:
                try:
                    clock.waiting()
                    event = await anext(stream)
                    if clock.fired:  # the limit passed as the event arrived: withdraw, as asyncio.timeout does
                        clock.expired()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if clock.expired():
                        raise LLMTimeout(clock.reason()) from None
                    raise
                finally:
                    clock.idle = False
                yield event
        except LLMError as exc:
            yield to_event(exc.located(model=call.model.name, provider=call.route.provider))
        except Exception as exc:
            log.exception("stream from %s broke", call.route.provider)
            error = ProviderError(
                f"{exc.__class__.__name__}: {exc}", model=call.model.name, provider=call.route.provider
            )
            yield to_event(error)
        finally:
            clock.stop()
            await stream.aclose()  # also on cancellation: closes the provider's HTTP stream


class StreamClock:
    """The idle and whole-call limits of a stream after its first event. A timer per event would cost more
    than the rest of the relay, so one timer is re-armed lazily: waiting for an event costs a clock read,
    and only a wait that outlives a limit cancels the waiting task (as `asyncio.timeout` would). One task
    reads the stream at a time: the first that waits, or the next once that one is done."""

    def __init__(self, idle_timeout_s: float, call_timeout_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.idle_timeout_s = idle_timeout_s
        self.deadline = self.loop.time() + call_timeout_s
        self.idle = False  # a wait for the provider's next event is in progress
        self.since = 0.0
        self.task: asyncio.Task[Any] | None = None
        self.cancelling = 0
        self.fired = False
        self.handle = self.loop.call_at(min(self.loop.time() + idle_timeout_s, self.deadline), self._check)

    def waiting(self) -> None:
        """A wait for the next event starts; past the whole call's deadline, it does not."""
        self.since = self.loop.time()
        if self.since >= self.deadline:
            raise LLMTimeout("the model call timed out")
        self.idle = True
        if self.task is None or self.task.done():  # asking per event would cost a tenth of the relay
            self.task = asyncio.current_task()
            self.cancelling = self.task.cancelling() if self.task else 0

    def _check(self) -> None:
        now = self.loop.time()
        if not self.idle:
            # The next wait starts later, so it cannot expire before this; past the deadline, `waiting` refuses.
            if now < self.deadline:
                self.handle = self.loop.call_at(min(now + self.idle_timeout_s, self.deadline), self._check)
            return
        due = min(self.since + self.idle_timeout_s, self.deadline)
        if now >= due - 0.001 and self.task is not None:  # timers may run a clock tick early
            self.fired = True
            self.task.cancel()
            return
        self.handle = self.loop.call_at(due, self._check)

    def expired(self) -> bool:
        """Whether a cancellation is ours (then it is withdrawn, and the caller raises a timeout instead)."""
        if not self.fired or self.task is None:
            return False
        self.fired = False
        self.handle = self.loop.call_at(min(self.loop.time() + self.idle_timeout_s, self.deadline), self._check)
        return self.task.uncancel() <= self.cancelling

    def reason(self) -> str:
        if self.since + self.idle_timeout_s >= self.deadline:
            return "the model call timed out"
        return f"no output for {self.idle_timeout_s:.0f} s"

    def stop(self) -> None:
        self.handle.cancel()


def summarize(failures: list[LLMError], primary: RegisteredModel) -> LLMError:
    """The error to report when every route failed before output."""
    if not failures:
        return ProviderError(f"no usable route for {primary.name}", model=primary.name)
    if all(isinstance(f, Throttled) for f in failures):
        waits = [f.retry_after for f in failures if isinstance(f, Throttled) and f.retry_after is not None]
        return Throttled(
            "rate limited on every route",
            retry_after=min(waits) if waits else None,
            model=primary.name,
            provider=failures[0].provider,
        )
    return failures[-1]
