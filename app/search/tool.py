"""The `code_search` server tool: agents search the team's indexed repositories without a client round trip."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.search.service import SearchService
from app.tools.server_tools import ServerTool, ToolContext


class CodeSearchInput(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="What the code does, or names in it.")
    repositories: list[str] | None = Field(default=None, description="Index names to search; default all.")
    path_prefix: str | None = Field(default=None, description="Only files under this path.")
    language: str | None = Field(default=None, description="Only this language, e.g. python.")
    top_k: int = Field(default=8, ge=1, le=20, description="How many results.")


def code_search_tool(service: SearchService) -> ServerTool:
    async def run(arguments: BaseModel, context: ToolContext) -> str:
        assert isinstance(arguments, CodeSearchInput)
        hits, names = await service.search(
            arguments.query,
            team_id=context.team_id,
            repos=arguments.repositories,
            top_k=arguments.top_k,
            path_prefix=arguments.path_prefix,
            language=arguments.language,
        )
        if not hits:
            return "No indexed code matched. (Indexes: adjutant index PATH, or POST /v1/repositories.)"
        parts = []
        for hit in hits:
            where = " > ".join(h.get("value", "") for h in hit.hierarchy)
            numbered = "\n".join(f"{hit.start_line + i:>5}  {line}" for i, line in enumerate(hit.text.splitlines()))
            parts.append(
                f"{names.get(hit.repository_id)}:{hit.denotation}" + (f" ({where})" if where else "") + f"\n{numbered}"
            )
        return "\n\n".join(parts)

    return ServerTool(
        name="code_search",
        description="Search the team's indexed repositories by meaning and by identifiers; returns code with paths "
        "and line numbers.",
        model=CodeSearchInput,
        run=run,
    )
