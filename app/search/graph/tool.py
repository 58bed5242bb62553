"""The `code_graph` server tool: agents ask the symbol graph what calls a function, what it calls, where a
symbol is defined or used, instead of guessing from text search."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.errors import NotFound
from app.search.graph import queries, questions
from app.search.graph.questions import Question
from app.tools.server_tools import ServerTool, ToolContext

TOOL_LIMIT = 40  # sites shown to the model per call


class CodeGraphInput(BaseModel):
    question: Question = Field(
        description="callers: what calls it; callees: what it calls; references: where it is used; "
        "definitions: where it is defined."
    )
    symbol: str = Field(min_length=1, max_length=500, description="A bare name or a dotted qualified one.")
    repository: str = Field(min_length=1, max_length=200, description="The indexed repository's name.")


def describe(page: questions.Page) -> str:
    lookup = page.answer.lookup
    if not lookup.matches and not page.answer.sites:
        return f"No definition of {lookup.symbol!r} in {page.repository}, and nothing there names it."
    if lookup.ambiguous and page.question != "definitions":
        candidates = "\n".join(f"- {m.qualified} ({m.kind}, {m.path}:{m.start_line})" for m in lookup.matches)
        return f"{lookup.symbol!r} is ambiguous; ask again with one of:\n{candidates}"
    if page.question == "definitions":
        return "\n".join(f"{m.qualified} ({m.kind}) {m.path}:{m.start_line}-{m.end_line}" for m in lookup.matches)
    subject = lookup.matches[0].qualified if lookup.matches else f"{lookup.symbol} (defined outside the repository)"
    lines = [
        f"{page.question} of {subject}: {page.total}" + (f" (first {page.limit})" if page.total > page.limit else "")
    ]
    for site in page.items:
        assert isinstance(site, queries.Site)
        if page.question == "callees":
            where = (
                f"{site.resolved.qualified} ({site.resolved.path}:{site.resolved.start_line})"
                if site.resolved
                else "unresolved"
            )
            lines.append(f"- {site.path}:{site.line} {site.name} -> {where}")
        else:
            mark = "" if site.resolved else " [unresolved: same name, may be something else]"
            lines.append(f"- {site.path}:{site.line} in {site.source} ({site.kind} {site.name}){mark}")
    return "\n".join(lines)


def code_graph_tool() -> ServerTool:
    async def run(arguments: BaseModel, context: ToolContext) -> str:
        assert isinstance(arguments, CodeGraphInput)
        try:
            page = await questions.ask(
                arguments.question,
                team_id=context.team_id,
                repository=arguments.repository,
                symbol=arguments.symbol,
                limit=TOOL_LIMIT,
            )
        except NotFound:
            return f"No indexed repository named {arguments.repository!r}."
        return describe(page)

    return ServerTool(
        name="code_graph",
        description="Ask the symbol graph of an indexed repository: what calls a function, what it calls, "
        "where a symbol is defined or used. Answers with paths and lines, resolved through imports.",
        model=CodeGraphInput,
        run=run,
    )
