"""Picking an agent for a query: an explicit command first, then strong signals, then the rules, and only when
none decides a cheap model call with a short timeout; anything unexpected falls back to the default
(docs/protocol.md §11 #24). Every selection says how and why it was made; the solver records it with the query.

Strong signals count only when the team has the connection that makes them useful: a ticket key means the
ticket agent when Jira or Linear is connected (otherwise "ABC-123" is just text), a pull request URL the PR
agent when an SCM is connected, a Confluence link the docs agent when Confluence is.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.agents.base import Agent, AgentInput
from app.agents.code_edit.agent import AGENT as CODE_EDIT
from app.agents.code_qa.agent import AGENT as CODE_QA
from app.agents.docs.agent import AGENT as DOCS
from app.agents.pr.agent import AGENT as PR
from app.agents.release_notes.agent import AGENT as RELEASE_NOTES
from app.agents.ticket.agent import AGENT as TICKET

log = logging.getLogger("adjutant.agents")
COMMANDS = {
    "ask": "code_qa",
    "edit": "code_edit",
    "jira": "ticket",
    "ticket": "ticket",
    "docs": "docs",
    "pr": "pr",
    "release-notes": "release_notes",
}
EXPLICIT = re.compile(r"^/(ask|edit|jira|ticket|docs|pr|release-notes)\b\s*", re.IGNORECASE)
EDIT_WORDS = re.compile(
    r"\b(fix|implement|add|create|write|refactor|rename|change|update|remove|delete|replace|migrate|convert|"
    r"generate|make|build|move|extract|optimi[sz]e)\b",
    re.IGNORECASE,
)
QUESTION = re.compile(
    r"^\s*(what|why|how|where|which|who|when|explain|describe|does|is|are|can|could|should)\b|\?\s*$", re.IGNORECASE
)
# A Jira/Linear key: a project key (2-10 capitals/digits, starting with a capital), a dash, a number. Not
# preceded by a letter, dash or slash (a path or a longer token), not followed by a digit or dash.
TICKET_KEY = re.compile(r"(?<![A-Za-z0-9/_-])([A-Z][A-Z0-9]{1,9}-[1-9][0-9]{0,6})(?![0-9-])")
NOT_TICKETS = frozenset({"UTF", "ISO", "SHA", "CVE", "RFC", "HTTP", "TLS", "AES", "MD", "PEP", "GPT", "X"})
PR_URL = re.compile(r"https?://[^\s/]+/[^\s]+?/(pull|pulls|merge_requests|pull-requests)/[0-9]+", re.IGNORECASE)
PR_MENTION = re.compile(r"\b(PR|MR|pull request|merge request)\s*#?\s*[0-9]+\b", re.IGNORECASE)
CONFLUENCE_LINK = re.compile(r"https?://[^\s]+/(wiki/spaces/|wiki/x/|display/|pages/viewpage\.action)", re.IGNORECASE)
SCM = ("github", "gitlab", "bitbucket")
TRACKERS = ("jira", "linear")
AGENTS: tuple[Agent, ...] = (CODE_QA, CODE_EDIT, TICKET, DOCS, PR, RELEASE_NOTES)
# Agents only their command chooses: no rule or model picks them for a free-form query.
COMMAND_ONLY = frozenset({RELEASE_NOTES.name})
BY_NAME = {agent.name: agent for agent in AGENTS}


@dataclass(frozen=True)
class Selection:
    agent: Agent
    query: str  # with an explicit command removed
    by: str  # "explicit", "signal", "rules", "model" or "default"
    reason: str = ""  # a short sentence for history: why this agent


Classifier = Callable[[str, tuple[Agent, ...]], Awaitable[str]]


def ticket_keys(text: str) -> list[str]:
    keys = [key for key in TICKET_KEY.findall(text) if key.split("-")[0] not in NOT_TICKETS]
    return list(dict.fromkeys(keys))


async def select_agent(
    context: AgentInput,
    classify: Classifier | None = None,
    *,
    timeout_s: float = 2.0,
    agents: tuple[Agent, ...] = AGENTS,
    connected: frozenset[str] = frozenset(),
) -> Selection:
    """Which agent answers a query; `connected` is the set of connection kinds the team has."""
    query = context.query
    usable = tuple(a for a in agents if a.available(connected) and a.name not in COMMAND_ONLY) or agents[:1]
    explicit = EXPLICIT.match(query)
    if explicit:
        command = explicit.group(1).lower()
        wanted = next((a for a in agents if a.name == COMMANDS[command]), None)
        rest = query[explicit.end() :] or query
        if wanted is not None and wanted.available(connected):
            return Selection(wanted, rest, "explicit", f"the user asked for /{command}")
        fallback = _default(usable, context.write_mode)
        needs = " or ".join(wanted.requires) if wanted is not None else "?"
        return Selection(fallback, rest, "default", f"/{command} needs a {needs} connection; the team has none")
    signal = _signal(query, usable, connected)
    if signal is not None:
        return signal
    code_agents = tuple(a for a in usable if not a.requires)
    writers = [a for a in code_agents if a.may_write]
    readers = [a for a in code_agents if not a.may_write]
    default = _default(usable, context.write_mode)
    candidates = tuple(a for a in usable if context.write_mode or not a.may_write)
    if len(candidates) == 1:
        return Selection(candidates[0], query, "rules", "the only agent for this mode")
    if not any(a.requires for a in candidates):
        edits, asks = bool(EDIT_WORDS.search(query)), bool(QUESTION.search(query))
        if edits != asks and (writers or readers):
            pick = (writers if edits and writers else readers or writers)[0]
            return Selection(pick, query, "rules", "edit words" if edits else "a question")
    if classify is None:
        return Selection(default, query, "default", "no helper model to decide")
    try:
        answer = (await asyncio.wait_for(classify(query, candidates), timeout_s)).strip().lower()
    except Exception as exc:  # noqa: BLE001 - the selector must never fail a turn
        log.info("agent selection fell back to the default: %s", exc.__class__.__name__)
        return Selection(default, query, "default", f"the selector model failed ({exc.__class__.__name__})")
    # The longest matching name wins: "code_qa" must not be read out of an answer that names another agent.
    chosen = max((a for a in candidates if a.name in answer), key=lambda a: len(a.name), default=None)
    if chosen is None:
        return Selection(default, query, "default", "the selector model named no agent")
    return Selection(chosen, query, "model", "chosen by the selector model")


def _signal(query: str, usable: tuple[Agent, ...], connected: frozenset[str]) -> Selection | None:
    names = {a.name for a in usable}
    if "pr" in names and connected & set(SCM):
        found = PR_URL.search(query) or PR_MENTION.search(query)
        if found:
            return Selection(BY_NAME["pr"], query, "signal", f"mentions pull request {found.group(0)[:80]}")
    if "docs" in names and "confluence" in connected and CONFLUENCE_LINK.search(query):
        return Selection(BY_NAME["docs"], query, "signal", "links a Confluence page")
    if "ticket" in names and connected & set(TRACKERS):
        keys = ticket_keys(query)
        if keys:
            return Selection(BY_NAME["ticket"], query, "signal", f"names ticket {', '.join(keys[:3])}")
    return None


def _default(usable: tuple[Agent, ...], write_mode: bool) -> Agent:
    code_agents = [a for a in usable if not a.requires] or list(usable)
    writers = [a for a in code_agents if a.may_write]
    readers = [a for a in code_agents if not a.may_write]
    return (writers or readers)[0] if write_mode else (readers or writers)[0]


def selector_prompt(query: str, agents: tuple[Agent, ...]) -> str:
    options = "\n".join(f"- {a.name}: {a.description}" for a in agents)
    return f"Which agent should handle this request? Answer with the agent name only.\n{options}\n\nRequest: {query}"
