"""What every agent is: a name, when it fits, a prompt template, and whether it may change files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from app.llm.tokens import count_text
from app.tools.results import cap

MARKUP = (Path(__file__).parent / "markup.md").read_text(encoding="utf-8")


@dataclass(frozen=True)
class AgentInput:
    """Everything an agent may use to build its prompt; plain data so agents never see the wire."""

    query: str
    os_name: str | None = None
    shell: str | None = None
    vscode_env: str | None = None
    repositories: list[dict[str, Any]] = field(default_factory=list)
    repo_path: str | None = None
    focus_items: list[dict[str, Any]] = field(default_factory=list)
    active_file: dict[str, Any] | None = None
    rules: str | None = None
    write_mode: bool = False
    tool_names: tuple[str, ...] = ()


class Agent:
    """An agent declares its prompt, its tools and its budget; the selector and the solver read them.

    `server_tools` names the server tools it may be offered (each still only when the team has the connection
    the tool needs); `client_tools` whether the IDE's tools are offered at all; `requires` the connection kinds
    of which the team needs at least one for the agent to be chosen; `step_budget` its model calls per request
    (None = chat.step_cap), which `agents.<name>.step_cap` overrides."""

    name: str
    description: str
    may_write: bool
    template: Template

    def __init__(
        self,
        name: str,
        description: str,
        template_path: Path,
        *,
        may_write: bool,
        server_tools: tuple[str, ...] = ("code_search", "code_graph", "scm_get_file", "scm_search_code"),
        client_tools: bool = True,
        requires: tuple[str, ...] = (),
        step_budget: int | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.may_write = may_write
        self.server_tools = server_tools
        self.client_tools = client_tools
        self.requires = requires
        self.step_budget = step_budget
        self.template = Template(template_path.read_text(encoding="utf-8"))

    def available(self, connected: frozenset[str]) -> bool:
        return not self.requires or bool(connected & set(self.requires))

    def system_prompt(self, context: AgentInput, *, rules_max_chars: int) -> str:
        rules = (context.rules or "").strip()
        if len(rules) > rules_max_chars:
            rules = rules[:rules_max_chars] + "\n[... rules truncated ...]"
        return self.template.safe_substitute(
            os_name=context.os_name or "unknown",
            shell=context.shell or "unknown",
            repositories=_repositories(context),
            markup=MARKUP,
            tools=", ".join(context.tool_names) or "none",
            rules=f"<user_rules>\n{rules}\n</user_rules>" if rules else "The user set no rules.",
        ).strip()

    def user_message(self, context: AgentInput, *, focus_budget_tokens: int) -> str:
        """The query plus what the user pointed at, each item bounded."""
        parts = [context.query.strip()]
        focus = [_focus_text(item) for item in context.focus_items]
        if context.active_file:
            where = context.active_file.get("active_file")
            lines = (context.active_file.get("start_line"), context.active_file.get("end_line"))
            focus.append(f"The user has {where} open" + (f", lines {lines[0]}-{lines[1]}" if lines[0] else "") + ".")
        budget = focus_budget_tokens
        kept = []
        for text in focus:
            piece = cap(text, max(budget, 100))
            budget -= count_text(piece)
            kept.append(piece)
            if budget <= 0:
                kept.append("[... further focus items omitted ...]")
                break
        if kept:
            parts.append("<focus>\n" + "\n\n".join(kept) + "\n</focus>")
        return "\n\n".join(parts)


def _repositories(context: AgentInput) -> str:
    if not context.repositories:
        return f"Working repository: {context.repo_path}" if context.repo_path else "No repository is open."
    lines = []
    for repo in context.repositories:
        mark = " (working repository)" if repo.get("is_working_repository") else ""
        lines.append(f"- {repo.get('repo_name', '?')}: {repo.get('repo_path', '?')}{mark}")
        if repo.get("root_directory_context"):
            lines.append(cap(str(repo["root_directory_context"]), 2000))
    return "\n".join(lines)


def _focus_text(item: dict[str, Any]) -> str:
    kind = item.get("type", "item")
    if kind == "url":
        return f"URL {item.get('url', '')}: " + "\n".join(str(c.get("content", "")) for c in item.get("chunks") or [])
    if kind == "directory":
        return f"Directory {item.get('path', '')}:\n{json.dumps(item.get('structure'), ensure_ascii=False)[:4000]}"
    chunks = "\n\n".join(str(c.get("content", "")) for c in item.get("chunks") or [] if isinstance(c, dict))
    return f"{kind} {item.get('value') or ''} in {item.get('path', '')}:\n{chunks}".strip()
