"""Edits the selected code in place (`generate-inline-edit`, docs/protocol.md §4.4): the system prompt and
the first user message of an inline-edit conversation, each part bounded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from app.llm.tokens import count_text
from app.tools.results import cap, chunk_text

TEMPLATE = Template(Path(__file__).with_name("prompt.md").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class EditContext:
    """What the client told us about the edit; plain data so the agent never sees the wire."""

    query: str
    file_path: str | None = None
    start_line: int | None = None
    end_line: int | None = None
    selected_text: str | None = None
    repo_path: str | None = None
    relevant_chunks: Sequence[str | dict[str, Any]] = ()
    rules: str | None = None


def system_prompt(context: EditContext, *, tool_names: Sequence[str], rules_max_chars: int) -> str:
    rules = (context.rules or "").strip()
    if len(rules) > rules_max_chars:
        rules = rules[:rules_max_chars] + "\n[... rules truncated ...]"
    return TEMPLATE.safe_substitute(
        repository=f"Repository: {context.repo_path}" if context.repo_path else "The repository path is unknown.",
        usage_note=", or find a symbol's uses with get_usage_tool" if "get_usage_tool" in tool_names else "",
        tools=", ".join(tool_names),
        rules=f"<user_rules>\n{rules}\n</user_rules>" if rules else "The user set no rules.",
    ).strip()


def user_message(context: EditContext, *, selection_max_chars: int, chunks_budget_tokens: int) -> str:
    parts = [f"<request>\n{context.query.strip()}\n</request>"]
    if context.file_path:
        where = f"File: {context.file_path}"
        if context.start_line and context.end_line:
            where += f", lines {context.start_line}-{context.end_line}"
        parts.append(where)
    selected = context.selected_text or ""
    if selected.strip():
        if len(selected) > selection_max_chars:
            selected = selected[:selection_max_chars] + "\n[... selection truncated: read the file for the rest ...]"
        parts.append(f"<selected_code>\n{selected}\n</selected_code>")
    else:
        parts.append("Nothing is selected: the edit goes at or around the position above.")
    related = _related(context.relevant_chunks, chunks_budget_tokens)
    if related:
        parts.append(f"<related_code>\n{related}\n</related_code>")
    return "\n\n".join(parts)


def _related(chunks: Sequence[str | dict[str, Any]], budget_tokens: int) -> str:
    kept: list[str] = []
    budget = budget_tokens
    for chunk in chunks:
        text = chunk if isinstance(chunk, str) else chunk_text(chunk)
        if not text.strip():
            continue
        if budget <= 100:
            kept.append("[... further related code omitted ...]")
            break
        piece = cap(text, budget)
        budget -= count_text(piece)
        kept.append(piece)
    return "\n\n".join(kept)
