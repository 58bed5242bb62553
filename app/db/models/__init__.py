"""Tortoise models. Every row a user can reach carries its owning team (`team_id`) for ownership checks."""

from app.db.models.attachments import Attachment, AttachmentBlob, InstanceSecret
from app.db.models.chat import ChatElement, Session, Step, ToolUse, TranscriptMessage, UserQuery
from app.db.models.code import Chunk, CodeFile, Repository
from app.db.models.crawls import Crawl, CrawlRepository
from app.db.models.extension import SavedUrl, UserExtensionSettings
from app.db.models.feedback import (
    DocTicket,
    DocTicketEvidence,
    FeedbackCluster,
    FeedbackClusterMember,
    FeedbackCursor,
    FeedbackInsight,
    FeedbackMessage,
    FeedbackRun,
)
from app.db.models.graph import CodeReference, CodeSymbol
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
from app.db.models.knowledge import KnowledgeChunk, KnowledgeDocument, KnowledgeImport, KnowledgeSource
from app.db.models.pr_reviews import (
    AuditEvent,
    PrReview,
    PrReviewComment,
    PrReviewPull,
    ReviewConnectionSettings,
)
from app.db.models.release_notes import ReleaseNote, ReleaseNoteRevision
from app.db.models.review_feedback import ReviewCategoryState, ReviewFeedbackSignal

__all__ = [
    "ApiToken",
    "Attachment",
    "AttachmentBlob",
    "AuditEvent",
    "ChatElement",
    "Chunk",
    "CodeFile",
    "CodeReference",
    "CodeSymbol",
    "Crawl",
    "CrawlRepository",
    "DocTicket",
    "DocTicketEvidence",
    "FeedbackCluster",
    "FeedbackClusterMember",
    "FeedbackCursor",
    "FeedbackInsight",
    "FeedbackMessage",
    "FeedbackRun",
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
    "KnowledgeChunk",
    "KnowledgeDocument",
    "KnowledgeImport",
    "KnowledgeSource",
    "Membership",
    "PrReview",
    "PrReviewComment",
    "PrReviewPull",
    "ReleaseNote",
    "ReleaseNoteRevision",
    "Repository",
    "ReviewCategoryState",
    "ReviewConnectionSettings",
    "ReviewFeedbackSignal",
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
