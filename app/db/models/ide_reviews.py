"""The extension's IDE review (docs/review-protocol.md §7): agents, repositories, reviews, agent runs with their
client tool calls, final comments and per-user comment feedback."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class IdeReviewRepo(Model):
    """A repository as the extension names it: (repo_name, origin URL) within a team."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repo_name = fields.CharField(max_length=200)
    origin_url = fields.TextField()
    origin_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ide_review_repos"
        unique_together = (("team", "repo_name", "origin_hash"),)


class IdeReviewAgent(Model):
    """One of a principal's review agents; soft-deleted rows keep naming their old comments."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    agent_name = fields.CharField(max_length=64)
    display_name = fields.CharField(max_length=100)
    custom_prompt = fields.TextField(default="")
    objective = fields.TextField(default="")
    is_custom_agent = fields.BooleanField()
    confidence_score = fields.FloatField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ide_review_agents"


class IdeReview(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    repo = fields.ForeignKeyField("models.IdeReviewRepo", related_name=False, on_delete=fields.CASCADE)
    session = fields.ForeignKeyField("models.Session", related_name=False, null=True, on_delete=fields.SET_NULL)
    source_branch = fields.CharField(max_length=255, default="")
    target_branch = fields.CharField(max_length=255, default="")
    source_commit = fields.CharField(max_length=64, default="")
    target_commit = fields.CharField(max_length=64, default="")
    review_type = fields.CharField(max_length=20)
    status = fields.CharField(max_length=24, default="IN_PROGRESS")
    reviewed_files = fields.JSONField(default=list)
    file_diffs = fields.JSONField(default=list)  # [{file_path, status, diff}] as the client sent them
    loc = fields.IntField(default=0)
    diff_tokens = fields.IntField(default=0)
    title = fields.TextField(null=True)
    failure = fields.TextField(null=True)
    review_datetime = fields.DatetimeField(null=True)
    execution_time_seconds = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "ide_reviews"


class IdeReviewAgentRun(Model):
    """One agent's pass over one review; `conversation` is the reviewer conversation between round trips."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    review = fields.ForeignKeyField("models.IdeReview", related_name=False, on_delete=fields.CASCADE)
    agent = fields.ForeignKeyField("models.IdeReviewAgent", related_name=False, on_delete=fields.CASCADE)
    status = fields.CharField(max_length=16, default="RUNNING")
    conversation = fields.JSONField(null=True)
    pending_tool_use_id = fields.CharField(max_length=128, null=True)
    steps = fields.IntField(default=0)
    findings = fields.JSONField(default=list)
    rejected_findings = fields.IntField(default=0)
    failure = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ide_review_agent_runs"
        unique_together = (("review", "agent"),)


class IdeReviewToolCall(Model):
    """A client tool an agent run asked for, and the client's raw answer with what the model was shown."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    run = fields.ForeignKeyField("models.IdeReviewAgentRun", related_name=False, on_delete=fields.CASCADE)
    tool_use_id = fields.CharField(max_length=128)
    tool_name = fields.CharField(max_length=64)
    tool_input = fields.JSONField()
    status = fields.CharField(max_length=16, default="PENDING")
    response = fields.JSONField(null=True)
    rendered = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    answered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ide_review_tool_calls"
        unique_together = (("run", "tool_use_id"),)


class IdeReviewComment(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    review = fields.ForeignKeyField("models.IdeReview", related_name=False, on_delete=fields.CASCADE)
    agent_ids = fields.JSONField()
    title = fields.TextField()
    comment = fields.TextField()
    rationale = fields.TextField(default="")
    corrective_code = fields.TextField(default="")
    file_path = fields.TextField()
    line_number = fields.IntField()
    tag = fields.CharField(max_length=32)
    category = fields.CharField(max_length=64, default="")
    severity = fields.CharField(max_length=16, default="medium")
    confidence = fields.FloatField(default=0)
    comment_status = fields.CharField(max_length=16, default="NOT_REVIEWED")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "ide_review_comments"


class IdeReviewCommentFeedback(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    comment = fields.ForeignKeyField("models.IdeReviewComment", related_name=False, on_delete=fields.CASCADE)
    liked = fields.BooleanField()
    feedback_comment = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "ide_review_comment_feedback"
        unique_together = (("comment", "user"),)
