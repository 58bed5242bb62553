"""One-shot rewrites by the helper model: a user's query made more specific, a terminal command edited.

Both are conveniences the client can live without, so every failure (no helper model, a provider error,
a timeout, an answer with nothing usable in it) is `None`, never an error response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.agents.query_enhancer import agent as query_enhancer
from app.agents.terminal_command import agent as terminal_command
from app.runtime.settings import RewriteSettings

log = logging.getLogger("adjutant.chat")
AskHelper = Callable[..., Awaitable[str]]


class Rewrites:
    def __init__(
        self, settings: RewriteSettings, *, ask_helper: AskHelper, helper_available: Callable[[], Any]
    ) -> None:
        self.settings = settings
        self.ask_helper = ask_helper
        self.helper_available = helper_available

    async def enhanced_query(self, user_query: str) -> str | None:
        answer = await self._ask(query_enhancer.prompt(user_query), purpose="enhance_query")
        return None if answer is None else query_enhancer.parse(answer, user_query)

    async def edited_command(self, *, query: str, old_terminal_command: str, os_name: str, shell: str) -> str | None:
        answer = await self._ask(
            terminal_command.prompt(
                query=query, old_terminal_command=old_terminal_command, os_name=os_name, shell=shell
            ),
            purpose="terminal_command",
        )
        return None if answer is None else terminal_command.parse(answer)

    async def _ask(self, prompt: str, *, purpose: str) -> str | None:
        if not self.helper_available():
            return None
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                return await self.ask_helper(prompt, purpose=purpose, max_output_tokens=self.settings.max_output_tokens)
        except TimeoutError:
            log.info("%s: the helper model did not answer within %.0f s", purpose, self.settings.timeout_s)
        except Exception as exc:  # noqa: BLE001 - a rewrite must never fail the request
            log.info("%s: the helper model failed: %s", purpose, exc.__class__.__name__)
        return None
