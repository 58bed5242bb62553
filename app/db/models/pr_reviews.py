"""Pull-request review (docs/review.md, "Pull request review"): the pull requests a connection reviews, each
review run, the comments the bot posted, each connection's permission to approve, and the audit trail."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class PrReviewPull(Model):
    """A pull request as the review keeps it between runs: the head it reviewed last, its one summary comment,
    the approval it gave, and a lease (`locked_until`) held by the run that is posting to it."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    connection = fields.ForeignKeyField("models.Integration", related_name=False, on_delete=fields.CASCADE)
    repo = fields.CharField(max_length=300)
    number = fields.IntField()
    title = fields.TextField(default="")
    author = fields.CharField(max_length=200, null=True)
    url = fields.TextField(default="")
    last_reviewed_sha = fields.CharField(max_length=64, null=True)
    summary_comment_id = fields.CharField(max_length=64, null=True)
    approval_state = fields.CharField(max_length=20, default="NONE")
    locked_by = fields.CharField(max_length=64, null=True)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "pr_review_pulls"
        unique_together = (("connection", "repo", "number"),)


class PrReview(Model):
    """One review run of a pull request at one head: what it found, dropped and decided."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    pull = fields.ForeignKeyField("models.PrReviewPull", related_name=False, on_delete=fields.CASCADE)
    job_id = fields.BigIntField(null=True)
    head_sha = fields.CharField(max_length=64)
    base_sha = fields.CharField(max_length=64, null=True)  # the head reviewed before, for an incremental run
    incremental = fields.BooleanField(default=False)
    trigger = fields.CharField(max_length=16)
    posting = fields.BooleanField()  # False: a dry run that only said what it would post
    status = fields.CharField(max_length=16, default="RUNNING")
    findings = fields.JSONField(default=list)
    dropped = fields.JSONField(default=list)
    omitted = fields.JSONField(default=list)
    files_reviewed = fields.JSONField(default=list)
    counts = fields.JSONField(default=dict)
    labels = fields.JSONField(default=list)
    approval = fields.CharField(max_length=20, null=True)
    approval_done = fields.BooleanField(default=False)
    approval_refused = fields.TextField(null=True)
    reason = fields.TextField(null=True)  # why it was skipped or failed
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    duration_ms = fields.IntField(null=True)

    class Meta:
        table = "pr_reviews"


class PrReviewComment(Model):
    """A comment the bot posted on a line (or is about to: PENDING), by the fingerprint of its finding."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    pull = fields.ForeignKeyField("models.PrReviewPull", related_name=False, on_delete=fields.CASCADE)
    review = fields.ForeignKeyField("models.PrReview", related_name=False, null=True, on_delete=fields.SET_NULL)
    fingerprint = fields.CharField(max_length=64)
    platform_id = fields.CharField(max_length=64, null=True)
    thread_id = fields.CharField(max_length=64, null=True)
    path = fields.TextField()
    line = fields.IntField()
    end_line = fields.IntField()
    severity = fields.CharField(max_length=16)
    category = fields.CharField(max_length=60)
    title = fields.TextField()
    commit_sha = fields.CharField(max_length=64)
    state = fields.CharField(max_length=16, default="PENDING")
    state_reason = fields.TextField(null=True)
    url = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "pr_review_comments"
        unique_together = (("pull", "fingerprint"),)


class ReviewConnectionSettings(Model):
    """Whether the review may approve or request changes through this connection, and whose `/adjutant`
    commands in pull-request comments it obeys (a maintainer's choice)."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    connection = fields.OneToOneField("models.Integration", related_name=False, on_delete=fields.CASCADE)
    may_approve = fields.BooleanField(default=False)
    may_request_changes = fields.BooleanField(default=False)
    commands_from = fields.CharField(max_length=16, default="author")  # nobody | author | anyone
    updated_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "review_connection_settings"


class AuditEvent(Model):
    """Something done on a team's behalf: by a user, or by the bot (with the connection it acted through)."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    actor_type = fields.CharField(max_length=8)
    actor_user = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    actor_name = fields.CharField(max_length=200)
    action = fields.CharField(max_length=40)
    target_type = fields.CharField(max_length=40)
    target = fields.TextField()
    reason = fields.TextField(default="")
    details = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_events"
