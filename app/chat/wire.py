"""The chat wire protocol (docs/protocol.md §5): request shapes, classification, fingerprints and frames."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.db.ownership import parse_id
from app.db.wire_types import WireStr
from app.errors import InvalidRequest
from app.tools.client_tools import ClientTool, ToolFlags

TOOL_USE_ID = r"^[A-Za-z0-9_-]{1,64}$"
TERMINAL_TYPES = frozenset({"STREAM_END", "STREAM_END_CLOSE_CONNECTION", "STREAM_ERROR"})
RequestKind = Literal["R1", "R2", "R3", "R4"]


class Loose(BaseModel):
    """Unknown request fields are ignored (docs/protocol.md §0)."""

    model_config = ConfigDict(extra="ignore")


class ToolResponse(Loose):
    tool_name: WireStr = Field(min_length=1, max_length=128)
    tool_use_id: str = Field(pattern=TOOL_USE_ID)
    response: Any = None
    status: WireStr | None = None

    @property
    def normalized_status(self) -> Literal["COMPLETED", "FAILED", "ABORTED"]:
        """Absent = COMPLETED (the ask_user_input answer has none); unknown values = FAILED (§5.3)."""
        if self.status is None or self.status == "COMPLETED":
            return "COMPLETED"
        return "ABORTED" if self.status == "ABORTED" else "FAILED"


class AttachmentRef(Loose):
    attachment_id: int


class ChatRequest(Loose):
    """The fields of R1 (new query) and R2 (tool responses), docs/protocol.md §5.3."""

    query: WireStr | None = None
    batch_tool_responses: list[ToolResponse] | None = None
    session_id: Any = None  # anything that is not an id counts as absent (§0)
    sessionId: Any = None  # noqa: N815 - the client's own spelling
    session_type: WireStr | None = Field(default=None, max_length=64)
    llm_model: WireStr | None = None
    reasoning: Literal["NONE", "MINIMAL", "LOW", "MEDIUM", "HIGH"] | None = None
    write_mode: bool = False
    search_web: bool = False
    is_inline: bool = False
    repositories: list[dict[str, Any]] = Field(default_factory=list)
    repoPath: WireStr | None = None  # noqa: N815
    focus_items: list[dict[str, Any]] = Field(default_factory=list)
    attachments: list[AttachmentRef] = Field(default_factory=list)
    active_file_reference: dict[str, Any] | None = None
    deputy_dev_rules: WireStr | None = None
    os_name: WireStr | None = None
    shell: WireStr | None = None
    vscode_env: WireStr | None = None
    client_tools: list[ClientTool] = Field(default_factory=list)
    is_embeddings_ready: bool = False
    is_indexing_ready: bool = False
    is_lsp_ready: bool = False
    retry_reason: Literal["TOOL_USE_FAILED", "THROTTLED", "TOKEN_LIMIT_EXCEEDED"] | None = None

    @field_validator("reasoning", mode="before")
    @classmethod
    def _unknown_reasoning_is_absent(cls, value: Any) -> Any:
        return value if value in ("NONE", "MINIMAL", "LOW", "MEDIUM", "HIGH") else None

    @field_validator("retry_reason", mode="before")
    @classmethod
    def _unknown_retry_reason_is_absent(cls, value: Any) -> Any:
        # metadata only, stored in a VARCHAR(32): an unknown reason is no reason rather than a refused retry
        return value if value in ("TOOL_USE_FAILED", "THROTTLED", "TOKEN_LIMIT_EXCEEDED") else None

    @property
    def requested_session_id(self) -> int | None:
        """`session_id`, else `sessionId`; values <= 0 or non-numeric count as absent (§0)."""
        return parse_id(self.session_id) or parse_id(self.sessionId)

    def tool_flags(self, *, semantic_search_enabled: bool) -> ToolFlags:
        return ToolFlags(
            write_mode=self.write_mode,
            search_web=self.search_web,
            is_indexing_ready=self.is_indexing_ready,
            is_embeddings_ready=self.is_embeddings_ready,
            is_lsp_ready=self.is_lsp_ready,
            semantic_search_enabled=semantic_search_enabled,
        )

    @property
    def repo_path(self) -> str | None:
        for repository in self.repositories:
            if repository.get("is_working_repository") and repository.get("repo_path"):
                return str(repository["repo_path"])
        return self.repoPath


class ResumeRequest(Loose):
    resume_query_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    # [0-9], not \d: \d also matches digits of other scripts
    resume_offset_id: str | None = Field(default=None, pattern=r"^[0-9]{1,16}-[0-9]{1,10}$")


class PayloadAttachment(Loose):
    type: Literal["PAYLOAD_ATTACHMENT"]
    attachment_id: int


def classify(raw: Any, *, allow_attachment: bool = True) -> tuple[RequestKind, BaseModel]:
    """docs/protocol.md §5.2, checked in order: R4, R3, R2, R1, else INVALID_REQUEST."""
    if not isinstance(raw, dict):
        raise InvalidRequest("each frame must be one JSON object")
    try:
        if raw.get("type") == "PAYLOAD_ATTACHMENT" and raw.get("attachment_id") is not None:
            if not allow_attachment:
                raise InvalidRequest("a payload attachment cannot contain another attachment")
            return "R4", PayloadAttachment.model_validate(raw)
        if "resume_query_id" in raw:
            if not allow_attachment:
                raise InvalidRequest("a payload attachment cannot contain a resume")
            return "R3", ResumeRequest.model_validate(raw)
        batch = raw.get("batch_tool_responses")
        if isinstance(batch, list) and batch:
            return "R2", ChatRequest.model_validate(raw)
        if isinstance(raw.get("query"), str) and raw["query"].strip():
            return "R1", ChatRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{where}: {first['msg']}") from None
    raise InvalidRequest("the frame is not a query, tool responses, a resume or a payload attachment")


def fingerprint(raw: dict[str, Any]) -> str:
    """Hash of the canonical request without `repositories` and `chatId` (§6.4)."""
    canonical = {k: v for k, v in raw.items() if k not in ("repositories", "chatId")}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def direct(kind: str, **data: Any) -> dict[str, Any]:
    """A frame without message_id: STREAM_START, PING, request-level STREAM_ERROR."""
    return {"data": {"type": kind, **data}}


def request_error(status: str, message: str, **extra: Any) -> dict[str, Any]:
    return direct("STREAM_ERROR", status=status, message=message, **extra)


def message_order(message_id: str) -> tuple[int, int]:
    """Message ids compare as (step start ms, sequence), never as text (§5.4)."""
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq)


def is_terminal(frame: dict[str, Any]) -> bool:
    return frame.get("data", {}).get("type") in TERMINAL_TYPES
