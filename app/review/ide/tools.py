"""The three tools an IDE review agent may ask the client to run (docs/review-protocol.md §5.6), and what the
model is shown of their results: known shapes formatted, failures as errors naming `error_type` and
`error_message`, everything capped at a token budget."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.llm.types import ToolCallPart, ToolSpec
from app.tools.results import cap, chunk_text


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrepSearchInput(_Input):
    search_path: str = Field(description='Directory or file to search, relative to the repository root; "." for all.')
    query: str = Field(min_length=1, description="Text or regular expression to look for.")
    case_insensitive: bool = Field(description="Ignore letter case.")
    use_regex: bool = Field(description="Treat the query as a regular expression.")


class FileReaderInput(_Input):
    file_path: str = Field(min_length=1, description="File to read, relative to the repository root.")
    start_line: int = Field(ge=1, description="First line to read (1-based).")
    end_line: int = Field(ge=1, description="Last line to read (inclusive); read at most 100 lines per call.")

    @model_validator(mode="after")
    def _ordered(self) -> FileReaderInput:
        if self.end_line < self.start_line:
            raise ValueError("end_line must not be before start_line")
        return self


class FilePathSearchInput(_Input):
    directory: str = Field(description='Directory to search, relative to the repository root; "." for all.')
    search_terms: list[str] | None = Field(
        default=None, max_length=20, description="Fragments of file names to match (at most 100 results)."
    )


INPUTS: dict[str, type[_Input]] = {
    "grep_search": GrepSearchInput,
    "iterative_file_reader": FileReaderInput,
    "file_path_searcher": FilePathSearchInput,
}
CLIENT_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec.from_model(
        "grep_search",
        "Search the repository's files for text or a regular expression; returns matching lines "
        "with their surroundings.",
        GrepSearchInput,
    ),
    ToolSpec.from_model(
        "iterative_file_reader",
        "Read lines of a file of the repository (1-based, inclusive, at most 100 lines "
        "per call), e.g. the code around a changed line or a function the change calls.",
        FileReaderInput,
    ),
    ToolSpec.from_model(
        "file_path_searcher",
        "List the files of a directory of the repository, optionally only those whose "
        "names contain one of the search terms.",
        FilePathSearchInput,
    ),
)


def input_problem(call: ToolCallPart) -> str | None:
    """Why a client tool call cannot be forwarded (the client would hang on it), or None."""
    model = INPUTS.get(call.name)
    if model is None:
        return f"there is no tool named {call.name!r}"
    try:
        model.model_validate(call.arguments)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        return f"invalid arguments for {call.name}: {where}: {first['msg']}"
    return None


def render(tool_name: str, response: Any, *, failed: bool, budget_tokens: int) -> str:
    """The bounded, model-visible text of a client tool's answer."""
    text = _failure(response) if failed else _success(tool_name, response)
    return cap(text, budget_tokens)


def _failure(response: Any) -> str:
    if isinstance(response, dict):
        kind = response.get("error_type") or "ERROR"
        message = response.get("error_message") or response.get("message") or "the tool failed without a message"
        subtype = response.get("error_subtype")
        label = f"{kind}/{subtype}" if subtype else str(kind)
        return f"The tool failed ({label}): {message}"
    return f"The tool failed: {_dump(response)}"


def _success(tool_name: str, response: Any) -> str:
    try:
        if tool_name == "grep_search":
            return _grep(response)
        if tool_name == "iterative_file_reader":
            return _file_read(response)
        if tool_name == "file_path_searcher":
            return _paths(response)
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    return _dump(response)


def _grep(response: Any) -> str:
    matches = response.get("data") if isinstance(response, dict) else response  # a bare array, as the client sends
    if not isinstance(matches, list):
        return _dump(response)
    if not matches:
        return "No matches."
    parts = []
    for match in matches:
        if not isinstance(match, dict):
            parts.append(_dump(match))
            continue
        lines = match.get("matched_line", match.get("matched_lines"))
        lines = lines if isinstance(lines, list) else [lines] if lines is not None else []
        where = f"matched line(s) {', '.join(str(n) for n in lines)}" if lines else "match"
        parts.append(f"{where}:\n{chunk_text(match.get('chunk_info'))}")
    return "\n\n".join(parts)


def _file_read(response: Any) -> str:
    data = response.get("data") if isinstance(response, dict) else None
    if not isinstance(data, dict):
        return _dump(response)
    note = " (a summary of the file, not its lines)" if data.get("was_summary") else ""
    tail = "end of file" if data.get("eof_reached") else f"the file has {data.get('total_lines', '?')} lines"
    return f"{chunk_text(data.get('chunk'))}\n[{tail}{note}]"


def _paths(response: Any) -> str:
    found = response.get("file_path_search") if isinstance(response, dict) else None
    paths = found.get("data") if isinstance(found, dict) else found
    if not isinstance(paths, list):
        return _dump(response)
    return "\n".join(str(p) for p in paths) or "No files found."


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
