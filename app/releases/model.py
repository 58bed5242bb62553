"""How release notes call a model: one bounded, deterministic completion through the router, by name.

Both model passes (classifying what no rule could, polishing the external notes) take an `ask(prompt)`
function, so they never see the router; tests give them a scripted model through the same interface."""

from __future__ import annotations

import asyncio

from app.errors import LLMError, LLMTimeout
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.llm.types import LLMRequest, Message
from app.runtime.settings import Settings


class ReleaseModel:
    def __init__(self, router: LLMRouter, name: str, *, timeout_s: float, max_output_tokens: int) -> None:
        self.router = router
        self.name = name
        self.timeout_s = timeout_s
        self.max_output_tokens = max_output_tokens

    async def ask(self, prompt: str) -> str:
        request = LLMRequest(
            model=self.name,
            messages=(Message.user(prompt),),
            max_output_tokens=self.max_output_tokens,
            temperature=0,
            purpose="release_notes",
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                return (await self.router.complete(request)).text
        except TimeoutError:
            raise LLMTimeout(f"no answer within {self.timeout_s:.0f} s", model=self.name) from None


def model_name(settings: Settings, registry: ModelRegistry) -> str | None:
    """`release_notes.model`, else the helper model, else the default; None when none is usable here."""
    for name in (settings.release_notes.model, settings.chat.summary_model):
        if name:
            try:
                return registry.get(name).name
            except LLMError:
                return None
    try:
        return registry.default().name
    except LLMError:
        return None


def release_model(settings: Settings, registry: ModelRegistry, router: LLMRouter) -> ReleaseModel | None:
    name = model_name(settings, registry)
    if name is None:
        return None
    section = settings.release_notes
    return ReleaseModel(router, name, timeout_s=section.model_timeout_s, max_output_tokens=section.max_output_tokens)
