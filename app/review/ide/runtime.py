"""What a worker keeps for the IDE review: its bounds, the steps running here, and the two socket services."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from app.llm.router import LLMRouter
from app.review.ide.limits import IdeReviewLimits
from app.review.ide.post_process import PostProcess
from app.review.ide.running import RunningReviews
from app.review.ide.runs import AgentRuns
from app.review.precision import PrecisionPolicy
from app.runtime.settings import Settings


@dataclass
class IdeReviews:
    limits: IdeReviewLimits
    running: RunningReviews
    runs: AgentRuns
    post_process: PostProcess

    @classmethod
    async def start(cls, settings: Settings, redis: aioredis.Redis, router: LLMRouter) -> IdeReviews:
        limits = IdeReviewLimits.from_settings(settings)
        running = RunningReviews(redis, settings.redis.key_prefix, poll_s=limits.cancel_poll_s)
        await running.start()
        return cls(
            limits=limits,
            running=running,
            runs=AgentRuns(router=router, limits=limits, running=running),
            post_process=PostProcess(limits=limits, running=running, policy=PrecisionPolicy.of(settings.review)),
        )

    async def stop(self, drain_s: float) -> None:
        """Running steps deliver their outcomes first (the client never asks again for a lost frame)."""
        await self.running.drain(drain_s)
        await self.running.close()
