"""Picking an agent for a query: by rules when they decide, and only otherwise by a cheap model call with
a short timeout; anything unexpected falls back to the default (docs/protocol.md §11 #24)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.agents.base import Agent, AgentInput
from app.agents.code_edit.agent import AGENT as CODE_EDIT
from app.agents.code_qa.agent import AGENT as CODE_QA

log = logging.getLogger("adjutant.agents")
EXPLICIT = re.compile(r"^/(ask|edit)\b\s*", re.IGNORECASE)
EDIT_WORDS = re.compile(
    r"\b(fix|implement|add|create|write|refactor|rename|change|update|remove|delete|replace|migrate|convert|"
    r"generate|make|build|move|extract|optimi[sz]e)\b",
    re.IGNORECASE,
)
QUESTION = re.compile(
    r"^\s*(what|why|how|where|which|who|when|explain|describe|does|is|are|can|could|should)\b|\?\s*$", re.IGNORECASE
)
AGENTS: tuple[Agent, ...] = (CODE_QA, CODE_EDIT)


@dataclass(frozen=True)
class Selection:
    agent: Agent
    query: str  # with an explicit /ask or /edit prefix removed
    by: str  # "explicit", "rules", "model" or "default"


Classifier = Callable[[str, tuple[Agent, ...]], Awaitable[str]]


async def select_agent(
    context: AgentInput,
    classify: Classifier | None = None,
    *,
    timeout_s: float = 2.0,
    agents: tuple[Agent, ...] = AGENTS,
) -> Selection:
    """Which agent answers a query: an explicit prefix, then the rules (write mode, edit or question words);
    only when they cannot decide is `classify` (a helper-model call, at most `timeout_s`) asked."""
    query = context.query
    explicit = EXPLICIT.match(query)
    if explicit:
        wanted = "code_edit" if explicit.group(1).lower() == "edit" else "code_qa"
        agent = next((a for a in agents if a.name == wanted), agents[0])
        return Selection(agent, query[explicit.end() :] or query, "explicit")
    writers = [a for a in agents if a.may_write]
    readers = [a for a in agents if not a.may_write]
    default = (writers or readers)[0] if context.write_mode else (readers or writers)[0]
    candidates = [a for a in agents if context.write_mode or not a.may_write]
    if len(candidates) == 1:
        return Selection(candidates[0], query, "rules")
    edits, asks = bool(EDIT_WORDS.search(query)), bool(QUESTION.search(query))
    if edits != asks:
        pick = (writers if edits else readers)[0]
        return Selection(pick, query, "rules")
    if classify is None:
        return Selection(default, query, "default")
    try:
        answer = (await asyncio.wait_for(classify(query, tuple(candidates)), timeout_s)).strip().lower()
    except Exception as exc:  # noqa: BLE001 - the selector must never fail a turn
        log.info("agent selection fell back to the default: %s", exc.__class__.__name__)
        return Selection(default, query, "default")
    chosen = next((a for a in candidates if a.name in answer), None)
    return Selection(chosen or default, query, "model" if chosen else "default")


def selector_prompt(query: str, agents: tuple[Agent, ...]) -> str:
    options = "\n".join(f"- {a.name}: {a.description}" for a in agents)
    return f"Which agent should handle this request? Answer with the agent name only.\n{options}\n\nRequest: {query}"
