"""Server-executed tools: other modules (code search, SCM, Jira, Confluence) register them here; the query
solver offers them and runs them inside the step, feeding their results to the next model call."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.llm.types import ToolSpec


@dataclass(frozen=True)
class ToolContext:
    """Who is calling, for ownership checks inside server tools."""

    user_id: int
    team_id: int
    session_id: int
    repo_path: str | None


@dataclass(frozen=True)
class ServerTool:
    name: str
    description: str
    model: type[BaseModel]
    run: Callable[[BaseModel, ToolContext], Awaitable[str]]
    available: Callable[[Any], bool] = lambda flags: True  # (ToolFlags) -> offered?
    needs: tuple[str, ...] = ()  # connection kinds, one of which the team must have
    writes: bool = False  # changes something outside: offered only when the request explicitly asks

    def spec(self) -> ToolSpec:
        return _spec(self.name, self.description, self.model)


@functools.cache
def _spec(name: str, description: str, model: type[BaseModel]) -> ToolSpec:
    """Generated once per process, not per chat: pydantic's JSON schema generation is not free, and the
    spec is immutable, so every step can share it."""
    return ToolSpec.from_model(name, description, model)


class ServerToolRegistry:
    def __init__(self) -> None:
        self.tools: dict[str, ServerTool] = {}

    def register(self, tool: ServerTool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"server tool {tool.name!r} is already registered")
        self.tools[tool.name] = tool

    def offered(
        self,
        flags: Any,
        *,
        names: tuple[str, ...] | None = None,
        connected: frozenset[str] = frozenset(),
        allow_writes: bool = False,
    ) -> list[ServerTool]:
        """The tools for one step: those the agent may use (`names`; None = every tool), whose connection the
        team has, and that write only when the request asked for it."""
        return [
            tool
            for tool in self.tools.values()
            if tool.available(flags)
            and (names is None or tool.name in names)
            and (not tool.needs or bool(connected & set(tool.needs)))
            and (allow_writes or not tool.writes)
        ]
