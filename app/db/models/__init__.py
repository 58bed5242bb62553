"""Tortoise models. Every row a user can reach carries its owning team (`team_id`) for ownership checks."""

from app.db.models.attachments import Attachment, AttachmentBlob, InstanceSecret
from app.db.models.chat import ChatElement, Session, Step, ToolUse, TranscriptMessage, UserQuery
from app.db.models.code import Chunk, CodeFile, Repository
from app.db.models.extension import SavedUrl, UserExtensionSettings
from app.db.models.ide_reviews import (
    IdeReview,
    IdeReviewAgent,
    IdeReviewAgentRun,
    IdeReviewComment,
    IdeReviewCommentFeedback,
    IdeReviewRepo,
    IdeReviewToolCall,
)
from app.db.models.identity import ApiToken, Membership, Team, User
from app.db.models.inline_edit import InlineEditJob
from app.db.models.integrations import Integration
from app.db.models.jobs import JobRecord, Schedule
from app.db.models.pr_reviews import (
    AuditEvent,
    PrReview,
    PrReviewComment,
    PrReviewPull,
    ReviewConnectionSettings,
)
from app.db.models.release_notes import ReleaseNote, ReleaseNoteRevision

__all__ = [
    "ApiToken",
    "Attachment",
    "AttachmentBlob",
    "AuditEvent",
    "ChatElement",
    "Chunk",
    "CodeFile",
    "IdeReview",
    "IdeReviewAgent",
    "IdeReviewAgentRun",
    "IdeReviewComment",
    "IdeReviewCommentFeedback",
    "IdeReviewRepo",
    "IdeReviewToolCall",
    "InlineEditJob",
    "InstanceSecret",
    "Integration",
    "JobRecord",
    "Membership",
    "PrReview",
    "PrReviewComment",
    "PrReviewPull",
    "ReleaseNote",
    "ReleaseNoteRevision",
    "Repository",
    "ReviewConnectionSettings",
    "SavedUrl",
    "Schedule",
    "Session",
    "Step",
    "Team",
    "ToolUse",
    "TranscriptMessage",
    "User",
    "UserExtensionSettings",
    "UserQuery",
]
