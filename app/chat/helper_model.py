"""The helper model: a cheap model for short side answers (agent selection, session titles, search reranking,
rewrites, web-search and URL summaries), kept apart from the user's own answer."""

from __future__ import annotations

from app.errors import LLMError
from app.llm.registry import ModelRegistry, RegisteredModel
from app.llm.router import LLMRouter
from app.llm.types import LLMRequest, Message
from app.runtime.settings import ChatSettings


class HelperModel:
    """Which model answers side questions (`chat.summary_model`, else the default) and one call to it."""

    def __init__(self, *, settings: ChatSettings, registry: ModelRegistry, router: LLMRouter) -> None:
        self.settings = settings
        self.registry = registry
        self.router = router

    def helper_model(self) -> RegisteredModel | None:
        """The cheap model for summaries and selection; never the local one (it serves one call at a time,
        so a helper call would queue ahead of the user's answer)."""
        try:
            model = (
                self.registry.get(self.settings.summary_model)
                if self.settings.summary_model
                else self.registry.default()
            )
        except LLMError:
            return None
        return None if model.routes[0].provider == "local" else model

    async def ask_helper(self, prompt: str, *, purpose: str, max_output_tokens: int) -> str:
        """One deterministic answer from the helper model; LLMError when there is none or it fails."""
        helper = self.helper_model()
        if helper is None:
            raise LLMError("no helper model")
        response = await self.router.complete(
            LLMRequest(
                model=helper.name,
                messages=(Message.user(prompt),),
                max_output_tokens=max_output_tokens,
                temperature=0,
                purpose=purpose,
            )
        )
        return response.text
