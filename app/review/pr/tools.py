"""The one server tool a pull-request reviewer gets: read a file of the repository at the reviewed head, a
bounded window of numbered lines, so it can check what the diff calls or changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, Field, ValidationError

from app.errors import IntegrationError
from app.llm.types import ToolCallPart, ToolSpec

MAX_LINES = 400


class ReadFileInput(BaseModel):
    path: str = Field(min_length=1, max_length=1000, description="Repository-relative path of the file.")
    start_line: int = Field(default=1, ge=1, description="First line to read.")
    end_line: int | None = Field(default=None, ge=1, description=f"Last line (at most {MAX_LINES} lines at once).")


READ_FILE = ToolSpec.from_model(
    "read_file",
    "Read lines of a file of the repository as it is at the reviewed commit, with line numbers.",
    ReadFileInput,
)
Reader = Callable[[str], Awaitable[str | None]]


def file_reader(read: Reader) -> Callable[[ToolCallPart], Awaitable[tuple[str, bool]]]:
    """The engine's `run_tool` for READ_FILE over `read(path)` (the platform's file read at the head)."""

    async def run(call: ToolCallPart) -> tuple[str, bool]:
        if call.name != READ_FILE.name:
            return f"The tool {call.name} is not available here.", True
        try:
            asked = ReadFileInput.model_validate(call.arguments)
        except ValidationError as exc:
            return f"Invalid arguments: {exc.errors(include_url=False)[0]['msg']}", True
        if ".." in asked.path.split("/") or asked.path.startswith("/"):
            return "The path must be repository-relative, without '..'.", True
        try:
            text = await read(asked.path)
        except IntegrationError as exc:
            return f"The file could not be read: {exc.detail}", True
        if text is None:
            return f"There is no file {asked.path} at the reviewed commit.", True
        lines = text.splitlines()
        end = min(len(lines), asked.end_line or asked.start_line + MAX_LINES - 1, asked.start_line + MAX_LINES - 1)
        shown = [f"{number} {lines[number - 1]}" for number in range(asked.start_line, end + 1)]
        if not shown:
            return f"{asked.path} has {len(lines)} lines.", False
        more = f"\n… {len(lines) - end} more lines" if end < len(lines) else ""
        return f"{asked.path} lines {asked.start_line}-{end} of {len(lines)}:\n" + "\n".join(shown) + more, False

    return run
