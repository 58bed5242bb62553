"""How the feedback workflow calls a model: one bounded, deterministic completion by name, with its tokens and
cost added up for the run that made it.

The insight and suggestion passes take this object's `ask`, never the router; tests give them the scripted
provider through the same interface."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from app.errors import LLMError, LLMTimeout
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.llm.types import LLMRequest, Message, Prices
from app.runtime.settings import Settings


class FeedbackModel:
    def __init__(
        self, router: LLMRouter, name: str, prices: Prices, *, timeout_s: float, max_output_tokens: int
    ) -> None:
        self.router = router
        self.name = name
        self.prices = prices
        self.timeout_s = timeout_s
        self.max_output_tokens = max_output_tokens
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = Decimal(0)

    async def ask(self, prompt: str) -> str:
        request = LLMRequest(
            model=self.name,
            messages=(Message.user(prompt),),
            max_output_tokens=self.max_output_tokens,
            temperature=0,
            purpose="feedback",
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.router.complete(request)
        except TimeoutError:
            raise LLMTimeout(f"no answer within {self.timeout_s:.0f} s", model=self.name) from None
        self.input_tokens += response.usage.input_tokens
        self.output_tokens += response.usage.output_tokens
        self.cost_usd += self.prices.cost(response.usage)
        return response.text


def feedback_model(settings: Settings, registry: ModelRegistry, router: LLMRouter) -> FeedbackModel | None:
    """`feedback.model`, else the helper model, else the default (unless it is the local one); None when none
    is usable, and the workflow then runs without model passes."""
    section = settings.feedback
    names = [n for n in (section.model, settings.chat.summary_model) if n]
    try:
        model = registry.get(names[0]) if names else registry.default()
    except LLMError:
        return None
    # The embedded local model is used only when named: it is small, serves one call at a time, and a run
    # that reads hundreds of messages would queue ahead of every chat.
    if not model.available or (not section.model and model.routes[0].provider == "local"):
        return None
    return FeedbackModel(
        router,
        model.name,
        model.prices,
        timeout_s=section.model_timeout_s,
        max_output_tokens=section.max_output_tokens,
    )
