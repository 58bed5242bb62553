"""A principal's review agents (docs/review-protocol.md §4.2-§4.5, §7.2): five predefined ones created on the
first listing, custom ones by name, and the reviewer each becomes for the engine."""

from __future__ import annotations

from typing import Any

from app.db.models import IdeReviewAgent
from app.db.ownership import Owner, parse_id
from app.db.repositories import ide_reviews as repo
from app.errors import Conflict, NotFound
from app.review.ide.wire import Agent, AgentCreate, AgentList, AgentUpdate
from app.review.reviewers import CORRECTNESS, MAINTAINABILITY, PERFORMANCE, SECURITY, ReviewerSpec

CUSTOM_AGENT_NAME = "custom_commenter_agent"
CUSTOM_THRESHOLD = 0.9
DOCUMENTATION_INSTRUCTIONS = (
    "Find code-communication problems the change introduces: names that say something other than what the "
    "code does, comments and docstrings that are wrong or stale after the change, public functions whose "
    "behaviour a caller cannot tell from their name and signature. No wording or formatting preferences."
)

# agent_name -> what the agent is for (shown as a tooltip), its threshold, its instructions, whether it may read
# more of the repository through the client's tools.
PREDEFINED: dict[str, dict[str, Any]] = {
    "security": {
        "display_name": "Security",
        "objective": "Finds insecure patterns and vulnerabilities the change introduces.",
        "confidence_score": 0.9,
        "instructions": SECURITY.instructions,
        "tools": True,
    },
    "code_communication": {
        "display_name": "Documentation",
        "objective": "Finds misleading names, stale comments and undocumented behaviour in the change.",
        "confidence_score": 0.98,
        "instructions": DOCUMENTATION_INSTRUCTIONS,
        "tools": False,
    },
    "performance_optimisation": {
        "display_name": "Performance Optimization",
        "objective": "Finds inefficient code and wasteful use of time, memory or I/O.",
        "confidence_score": 0.9,
        "instructions": PERFORMANCE.instructions,
        "tools": True,
    },
    "code_maintainability": {
        "display_name": "Code Maintainability",
        "objective": "Finds code that is hard to read, badly structured or duplicated.",
        "confidence_score": 0.9,
        "instructions": MAINTAINABILITY.instructions,
        "tools": True,
    },
    "error": {
        "display_name": "Error",
        "objective": "Finds code that is likely to fail at run time.",
        "confidence_score": 0.9,
        "instructions": CORRECTNESS.instructions,
        "tools": True,
    },
}


def view(agent: IdeReviewAgent) -> dict[str, Any]:
    return Agent(
        id=agent.id,
        agent_name=agent.agent_name,
        display_name=agent.display_name,
        custom_prompt=agent.custom_prompt,
        is_custom_agent=agent.is_custom_agent,
        objective=agent.objective,
        confidence_score=agent.confidence_score,
    ).model_dump(mode="json")


async def list_agents(owner: Owner) -> dict[str, Any]:
    """The live agents; a principal with none gets the predefined five first (one set under any race)."""
    agents = await repo.live_agents(owner)
    if not agents:
        await repo.insert_default_agents(owner, [{"agent_name": name, **spec} for name, spec in PREDEFINED.items()])
        agents = await repo.live_agents(owner)
    return AgentList(agents=[Agent.model_validate(view(a)) for a in agents], count=len(agents)).model_dump(mode="json")


async def create_agent(owner: Owner, body: AgentCreate) -> dict[str, Any]:
    agent = await repo.create_agent(
        owner,
        agent_name=CUSTOM_AGENT_NAME,
        display_name=body.name,
        custom_prompt=body.custom_prompt,
        objective="",
        is_custom_agent=True,
        confidence_score=CUSTOM_THRESHOLD,
    )
    if agent is None:
        raise Conflict(f"you already have an agent named {body.name!r}")
    return view(agent)


async def owned_agent(owner: Owner, raw_id: Any) -> IdeReviewAgent:
    agent_id = parse_id(raw_id)
    agent = await repo.live_agent(owner, agent_id) if agent_id is not None else None
    if agent is None:
        raise NotFound("agent not found")
    return agent


async def update_agent(owner: Owner, raw_id: Any, body: AgentUpdate) -> dict[str, Any]:
    """The prompt always; the display name only of a custom agent, and only when a name is given."""
    agent = await owned_agent(owner, raw_id)
    changes: dict[str, Any] = {"custom_prompt": body.custom_prompt}
    if agent.is_custom_agent and body.name:
        changes["display_name"] = body.name
    if not await repo.update_agent(agent, **changes):
        raise Conflict(f"you already have an agent named {body.name!r}")
    return view(agent)


async def delete_agent(owner: Owner, raw_id: Any) -> dict[str, Any]:
    agent = await owned_agent(owner, raw_id)
    if not agent.is_custom_agent:
        # Deleting the last agent would bring the predefined five back on the next listing.
        raise Conflict("predefined agents cannot be deleted; disable them in the agent list instead")
    await repo.soft_delete_agent(agent)
    return {"message": f"Agent {agent.display_name!r} deleted"}


def reviewer_of(agent: IdeReviewAgent) -> ReviewerSpec:
    """The engine's reviewer for an agent: its focus plus the user's own prompt, its threshold, its tools."""
    predefined = None if agent.is_custom_agent else PREDEFINED.get(agent.agent_name)
    base = predefined["instructions"] if predefined else ""
    prompt = agent.custom_prompt.strip()
    if predefined and prompt:
        instructions = f"{base}\n\nThe user adds: {prompt}"
    elif predefined:
        instructions = base
    else:
        instructions = f"Review the change for what the user asks for here: {prompt}"
    return ReviewerSpec(
        key=f"agent_{agent.id}",
        display_name=agent.display_name,
        instructions=instructions,
        confidence_threshold=agent.confidence_score,
        tools_enabled=bool(predefined["tools"]) if predefined else True,
        custom=agent.is_custom_agent,
    )


def agent_id_of(reviewer_key: str) -> int | None:
    """The agent a finding's reviewer key names (`agent_<id>`)."""
    prefix, _, number = reviewer_key.partition("_")
    return int(number) if prefix == "agent" and number.isdigit() else None
