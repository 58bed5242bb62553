"""The shapes of inline-edit jobs on the wire (docs/protocol.md §4.4): the request body, what submitting
answers, and what polling a job answers. Unknown request fields are ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.chat.wire import TOOL_USE_ID

QUERY_CHARS = 20_000
PATH_CHARS = 4096
SELECTION_CHARS = 2_000_000  # bounded again (more tightly) before it reaches the model
MAX_CHUNKS = 200
CHUNK_CHARS = 200_000


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LineRange(Lenient):
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LineRange:
        if self.end_line < self.start_line:
            raise ValueError("end_line must not be before start_line")
        return self


class CodeSelection(Lenient):
    selected_text: str | None = Field(default=None, max_length=SELECTION_CHARS)
    file_path: str | None = Field(default=None, max_length=PATH_CHARS)
    line_range: LineRange | None = None


class ToolUseResponse(Lenient):
    """The client's result for the tool a job requested, sent with that job's X-Session-ID."""

    tool_name: str = Field(min_length=1, max_length=128)
    tool_use_id: str = Field(pattern=TOOL_USE_ID)
    response: dict[str, Any]


class InlineEditRequest(Lenient):
    """Body of POST /end_user/v2/code-gen/generate-inline-edit (a follow-up repeats it plus tool_use_response)."""

    query: str = Field(min_length=1, max_length=QUERY_CHARS)
    code_selection: CodeSelection = CodeSelection()
    repo_path: str | None = Field(default=None, max_length=PATH_CHARS)
    relevant_chunks: list[str | dict[str, Any]] = Field(default_factory=list, max_length=MAX_CHUNKS)
    llm_model: str | None = Field(default=None, max_length=128)
    search_web: bool = False
    is_lsp_ready: bool = False
    is_indexing_done: bool = False
    deputy_dev_rules: str | None = Field(default=None, max_length=200_000)
    tool_use_response: ToolUseResponse | None = None

    @model_validator(mode="after")
    def _bounded_chunks(self) -> InlineEditRequest:
        if any(isinstance(c, str) and len(c) > CHUNK_CHARS for c in self.relevant_chunks):
            raise ValueError(f"a relevant chunk is longer than {CHUNK_CHARS} characters")
        return self


class InlineEditAccepted(BaseModel):
    """`data` of generate-inline-edit: the job to poll and the session that follow-ups must name."""

    job_id: int
    session_id: int


class CodeSnippet(BaseModel):
    file_path: str
    code: str = Field(description="SEARCH/REPLACE blocks in the replace_in_file format.")


class ToolUseRequestContent(BaseModel):
    tool_name: str
    tool_use_id: str
    tool_input: dict[str, Any]


class ToolUseRequest(BaseModel):
    content: ToolUseRequestContent


class InlineEditResult(BaseModel):
    """A completed job's `response`: exactly one of the two keys is present and non-empty."""

    code_snippets: list[CodeSnippet] | None = None
    tool_use_request: ToolUseRequest | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InlineEditResult:
        if bool(self.code_snippets) == bool(self.tool_use_request):
            raise ValueError("exactly one of code_snippets and tool_use_request")
        return self

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class JobStatusQuery(Lenient):
    """Query string of GET /end_user/v1/code-gen/get-job-status."""

    job_id: str = Field(min_length=1, max_length=32)


class JobStatus(BaseModel):
    """`data` of get-job-status."""

    status: Literal["PENDING", "COMPLETED", "FAILED"]
    response: InlineEditResult | None = Field(description="What a COMPLETED job produced; null otherwise.")
    error: str | None = Field(default=None, description="Why a FAILED job failed.")

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "response": self.response.wire() if self.response else None}
        if self.error is not None:
            body["error"] = self.error
        return body
