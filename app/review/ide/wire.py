"""The IDE review on the wire (docs/review-protocol.md §4-§7): request bodies and query strings, response
shapes, the client's socket messages and the frames we send back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from app.db.wire_types import WireStr, integer_form

ReviewType = Literal["ALL", "UNCOMMITTED_ONLY", "COMMITTED_ONLY"]
CommentStatus = Literal["NOT_REVIEWED", "RESOLVED", "REJECTED", "ACCEPTED"]
AgentItemType = Literal["query", "tool_use_response", "tool_use_failed"]


def _blank_is_absent(value: Any) -> Any:
    """Query values arrive as strings, blank ones included (§3): blank counts as absent."""
    return None if isinstance(value, str) and not value.strip() else value


def _id_form(value: Any) -> Any:
    return integer_form(value) if value is not None else None


QueryId = Annotated[int, BeforeValidator(integer_form)]
"""An id in a query string or path: ASCII digits (422 otherwise); beyond the id range it is simply not found."""

OptionalQueryId = Annotated[int | None, BeforeValidator(lambda v: _id_form(_blank_is_absent(v)))]
OptionalQueryText = Annotated[WireStr | None, BeforeValidator(_blank_is_absent), Field(max_length=255)]
AgentName = Annotated[WireStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Prompt = Annotated[WireStr, StringConstraints(min_length=1, max_length=8000)]


class Body(BaseModel):
    """Unknown fields are ignored, as the client may send more than it needs to."""

    model_config = ConfigDict(extra="ignore")


# --- agents (§4.2-§4.5) ----------------------------------------------------------------------------------------


class AgentCreate(Body):
    name: AgentName
    custom_prompt: Prompt


class AgentUpdate(Body):
    custom_prompt: Prompt
    name: Annotated[WireStr, StringConstraints(strip_whitespace=True, max_length=100)] | None = None


class Agent(BaseModel):
    id: int
    agent_name: str
    display_name: str
    custom_prompt: str
    is_custom_agent: bool
    objective: str
    confidence_score: float


class AgentList(BaseModel):
    agents: list[Agent]
    count: int


class Message(BaseModel):
    message: str


# --- repositories and history (§4.6, §4.7, §7.4) ----------------------------------------------------------------


class RepoQuery(BaseModel):
    repo_name: Annotated[WireStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    origin_url: Annotated[WireStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RepoId(BaseModel):
    repo_id: int


class HistoryQuery(BaseModel):
    source_branch: OptionalQueryText = None
    repo_id: OptionalQueryId = None
    target_branch: OptionalQueryText = None


class CommentFeedback(BaseModel):
    like: bool | None
    feedback_comment: str | None


class Comment(BaseModel):
    id: int
    title: str
    comment: str
    rationale: str
    corrective_code: str
    file_path: str
    line_number: int
    tag: str
    comment_status: CommentStatus
    agent_ids: list[int]
    feedback: CommentFeedback | None
    line_hash: str


class AgentSummary(BaseModel):
    id: int
    name: str
    display_name: str
    count: int


class ReviewMeta(BaseModel):
    file_count: int
    comment_count: int


class PastReview(BaseModel):
    id: int
    title: str
    execution_time_seconds: int | None
    review_datetime: str | None
    comments: dict[str, list[Comment]]
    agent_summary: list[AgentSummary]
    tag_summary: dict[str, int]
    meta: ReviewMeta
    feedback: CommentFeedback | None


# --- pre-process (§4.8) ------------------------------------------------------------------------------------------


class LineChanges(Body):
    added: int = Field(ge=0)
    removed: int = Field(ge=0)


class FileChange(Body):
    file_path: Annotated[WireStr, StringConstraints(min_length=1, max_length=1000)]
    file_name: Annotated[WireStr, StringConstraints(max_length=1000)] = ""
    status: Annotated[WireStr, StringConstraints(max_length=16)] = ""
    line_changes: LineChanges | None = None
    diff: WireStr = ""

    @field_validator("file_path")
    @classmethod
    def _repo_relative(cls, value: str) -> str:
        parts = value.split("/")
        if value.startswith("/") or "\\" in value or ".." in parts or (len(value) > 1 and value[1] == ":"):
            raise ValueError("must be a repository-relative path without '..'")
        if any(not part for part in parts):
            raise ValueError("must not contain empty path segments")
        return value


Branch = Annotated[WireStr, StringConstraints(max_length=255)]
Commit = Annotated[WireStr, StringConstraints(max_length=64)]


class PreProcessRequest(Body):
    file_wise_diff: list[FileChange] = Field(max_length=5000)
    source_branch: Branch = ""
    target_branch: Branch = ""
    source_commit: Commit = ""
    target_commit: Commit = ""
    origin_url: Annotated[WireStr, StringConstraints(min_length=1, max_length=2000)]
    repo_name: Annotated[WireStr, StringConstraints(min_length=1, max_length=200)]
    review_type: ReviewType


class PreProcessResult(BaseModel):
    review_id: int
    session_id: int
    repo_id: int


# --- comments (§4.9-§4.11) and cancel (§4.12) --------------------------------------------------------------------


class FeedbackBody(Body):
    like: bool
    feedback_comment: Annotated[WireStr, StringConstraints(max_length=4000)] | None = None


class FeedbackResult(BaseModel):
    comment_id: int
    like: bool
    feedback_comment: str | None


class CommentStatusQuery(BaseModel):
    comment_id: QueryId
    status: CommentStatus


class CommentQuery(BaseModel):
    comment_id: QueryId


class FixQuery(BaseModel):
    fix_query: str


class PathId(BaseModel):
    id: QueryId


class CancelQuery(BaseModel):
    review_id: QueryId


class Cancelled(BaseModel):
    status: Literal["CANCELLED"]
    message: str


# --- socket messages (§5.3, §6.2) --------------------------------------------------------------------------------


class ToolUseResponse(Body):
    tool_name: Annotated[WireStr, StringConstraints(min_length=1, max_length=64)]
    tool_use_id: Annotated[WireStr, StringConstraints(min_length=1, max_length=128)]
    response: Any = None


class AgentItem(Body):
    agent_id: QueryId
    review_id: QueryId
    type: AgentItemType
    tool_use_response: ToolUseResponse | None = None


def readable_agent_ids(payload: Any) -> list[int]:
    """The agent ids a request-level failure can still answer for, in the message's order (§5.7)."""
    items = payload.get("agents") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    ids: list[int] = []
    for item in items:
        raw = item.get("agent_id") if isinstance(item, dict) else None
        try:
            value = integer_form(raw)
        except ValueError:
            continue
        if value not in ids:
            ids.append(value)
    return ids


# --- frames (§5.4, §5.8, §6.3) -----------------------------------------------------------------------------------


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def frame(kind: str, agent_id: int | None = None, **data: Any) -> dict[str, Any]:
    """Every frame: `type`, `agent_id` (null for stream-level ones), an object `data`, a UTC timestamp."""
    return {"type": kind, "agent_id": agent_id, "data": data, "timestamp": timestamp()}


def stream_start(new_session_data: str | None = None) -> dict[str, Any]:
    extra = {"new_session_data": new_session_data} if new_session_data else {}
    return frame("STREAM_START", type="STREAM_START", **extra)


def stream_end() -> dict[str, Any]:
    return frame("STREAM_END")


def stream_error(status: str, message: Any) -> dict[str, Any]:
    """A connection-level error: the client's middlewares read `status` and `message` at the top level."""
    return {
        "type": "STREAM_ERROR",
        "status": status,
        "message": message,
        "agent_id": None,
        "data": {},
        "timestamp": timestamp(),
    }


def agent_fail(agent_id: int, message: str) -> dict[str, Any]:
    return frame("AGENT_FAIL", agent_id, message=message)
