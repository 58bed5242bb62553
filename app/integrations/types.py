"""What the clients return: one shape per domain object whatever the service, so a workflow (review, release
notes, docs feedback) and a server tool work the same over GitHub, GitLab or Bitbucket, Jira or Linear.

Every object carries `url`, the page a person would open: tools cite it and answers link it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class Identity(BaseModel):
    """Who the credentials act as, and what they may do: what `adjutant integrations test` reports."""

    login: str
    name: str | None = None
    scopes: list[str] = Field(default_factory=list)
    detail: str | None = None  # e.g. "GitHub App installation 42 on acme", "Jira Cloud 1001.0.0"


# --- SCM ------------------------------------------------------------------------------------------------------


class FileContent(BaseModel):
    repo: str
    path: str
    ref: str | None
    text: str
    size: int
    truncated: bool = False
    url: str


class PullRequestFile(BaseModel):
    path: str
    previous_path: str | None = None
    status: Literal["added", "modified", "removed", "renamed", "copied", "changed", "unchanged"] = "modified"
    additions: int = 0
    deletions: int = 0
    patch: str | None = None  # unified diff hunks of this file; None when the service omits it (binary, huge)


class PullRequest(BaseModel):
    repo: str
    number: int
    title: str
    body: str = ""
    state: Literal["open", "closed", "merged", "draft"]
    author: str | None = None
    source_branch: str | None = None
    target_branch: str | None = None
    head_sha: str | None = None
    base_sha: str | None = None
    labels: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    merged_at: datetime | None = None
    url: str
    files: list[PullRequestFile] = Field(default_factory=list)


class Commit(BaseModel):
    sha: str
    message: str
    author_name: str | None = None
    author_email: str | None = None
    author_login: str | None = None
    authored_at: datetime | None = None
    parents: list[str] = Field(default_factory=list)
    url: str


class CodeHit(BaseModel):
    repo: str
    path: str
    url: str
    fragment: str | None = None


class Comparison(BaseModel):
    """What `head` has that `base` lacks: its commits (oldest first, as `git log base..head --reverse`) and the
    files they change."""

    base: str
    head: str
    status: str | None = None  # "ahead", "behind", "diverged", "identical"
    ahead_by: int = 0
    behind_by: int = 0
    commits: list[Commit] = Field(default_factory=list)
    files: list[PullRequestFile] = Field(default_factory=list)
    url: str


class ReviewCommentDraft(BaseModel):
    """A comment to post on a line (or a range: `start_line`..`line`) of a pull request's diff."""

    path: str = Field(min_length=1, max_length=4096)
    line: int = Field(ge=1)
    side: Literal["LEFT", "RIGHT"] = "RIGHT"  # LEFT: the old file (a removed line); RIGHT: the new one
    body: str = Field(min_length=1, max_length=65_536)
    start_line: int | None = Field(default=None, ge=1)
    start_side: Literal["LEFT", "RIGHT"] | None = None

    @model_validator(mode="after")
    def _range(self) -> ReviewCommentDraft:
        if self.start_line is not None and self.start_line >= self.line:
            raise ValueError("start_line must be before line")
        return self


class ReviewComment(BaseModel):
    id: int
    path: str
    line: int | None = None  # None when the line is no longer in the diff (an outdated comment)
    start_line: int | None = None
    side: Literal["LEFT", "RIGHT"] | None = None
    body: str
    author: str | None = None
    commit_sha: str | None = None
    review_id: int | None = None
    in_reply_to: int | None = None
    created_at: datetime | None = None
    url: str


class PullRequestComment(BaseModel):
    """A comment on a pull request, top-level or on a line, in the same shape on every service: what a workflow
    that edits or resolves its own comments needs. `thread_id` is the GitLab discussion or the Bitbucket thread
    the comment belongs to (None on GitHub, which threads by `in_reply_to`)."""

    id: str
    body: str
    author: str | None = None
    path: str | None = None
    line: int | None = None  # None: a top-level comment, or one whose line is no longer in the diff
    thread_id: str | None = None
    resolved: bool = False
    created_at: datetime | None = None
    url: str | None = None


class PullRequestReview(BaseModel):
    id: int
    state: str  # "COMMENTED", "APPROVED", "CHANGES_REQUESTED", "PENDING"
    commit_sha: str | None = None
    url: str


class Tag(BaseModel):
    name: str
    sha: str  # the commit it points at
    message: str | None = None  # an annotated tag's message
    created_at: datetime | None = None  # the tag's date when the service has one, else its commit's
    url: str


# --- trackers and docs ----------------------------------------------------------------------------------------


class TrackerComment(BaseModel):
    id: str | None = None
    author: str | None = None
    created_at: datetime | None = None
    body: str
    url: str | None = None  # the comment itself, where the service can link to it


class IssueLink(BaseModel):
    relation: str  # "blocks", "is blocked by", "relates to", ...
    key: str
    title: str | None = None
    url: str | None = None


class TrackerIssue(BaseModel):
    """A Jira or Linear issue, its rich text already turned into plain text / Markdown."""

    key: str
    title: str
    status: str | None = None
    issue_type: str | None = None
    priority: str | None = None
    assignee: str | None = None
    reporter: str | None = None
    labels: list[str] = Field(default_factory=list)
    description: str = ""
    acceptance_criteria: list[str] = Field(default_factory=list)
    comments: list[TrackerComment] = Field(default_factory=list)
    links: list[IssueLink] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    url: str


class TrackerSearchPage(BaseModel):
    issues: list[TrackerIssue]
    total: int | None = None
    next_cursor: str | None = None  # pass back to get the next page; None = last page


class DocPage(BaseModel):
    id: str
    title: str
    space: str | None = None
    version: int | None = None
    body_markdown: str = ""
    excerpt: str | None = None
    url: str
    updated_at: datetime | None = None


# --- chat platforms -------------------------------------------------------------------------------------------


class ChatMessage(BaseModel):
    """A Slack or Discord message. `id` is the service's (a Slack ts, a Discord snowflake)."""

    id: str
    channel: str
    thread_id: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    is_bot: bool = False
    text: str
    created_at: datetime | None = None
    url: str | None = None
    reply_count: int = 0


class ChatThread(BaseModel):
    """A Discord thread: a channel of its own, under the channel `parent_id`."""

    id: str
    parent_id: str | None = None
    name: str
    message_count: int | None = None
    archived: bool = False
    created_at: datetime | None = None
    url: str | None = None
