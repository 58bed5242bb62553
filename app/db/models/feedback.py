"""Developer feedback and the documentation tickets made of it (docs/feedback.md)."""

from __future__ import annotations

from tortoise import fields

from app.db.fields import VectorField
from app.db.models.base import Model

DIMENSION = 384  # the local embedding model's; every feedback vector is one of its


class FeedbackRun(Model):
    """One run over a team's sources: what it read, how many clusters, tickets created/updated, cost."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    job_id = fields.BigIntField(null=True, unique=True)
    trigger = fields.CharField(max_length=16)  # schedule | api | cli
    status = fields.CharField(max_length=16, default="running")
    read_counts = fields.JSONField(default=dict)  # {"slack:C0123": 12, ...}
    messages_read = fields.IntField(default=0)
    candidates = fields.IntField(default=0)
    clusters = fields.IntField(default=0)
    significant = fields.IntField(default=0)
    tickets_created = fields.IntField(default=0)
    tickets_updated = fields.IntField(default=0)
    input_tokens = fields.IntField(default=0)
    output_tokens = fields.IntField(default=0)
    cost_usd = fields.DecimalField(max_digits=14, decimal_places=6, default=0)
    errors = fields.JSONField(default=list)  # [{"source": ..., "error": ...}] a source that failed this run
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "feedback_runs"


class FeedbackCursor(Model):
    """How far a channel was read: a Discord snowflake, a Slack ts, a user query id, an issue's update time."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    source = fields.CharField(max_length=16)
    channel = fields.CharField(max_length=300)
    position = fields.CharField(max_length=100)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "feedback_cursors"
        unique_together = (("team", "source", "channel"),)


class FeedbackMessage(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    source = fields.CharField(max_length=16)  # discord | slack | chat | github | api
    external_id = fields.CharField(max_length=300)
    connection = fields.ForeignKeyField("models.Integration", related_name=False, null=True, on_delete=fields.SET_NULL)
    channel = fields.CharField(max_length=300, null=True)
    thread_id = fields.CharField(max_length=300, null=True)
    author_id = fields.CharField(max_length=200, null=True)
    author_name = fields.CharField(max_length=200, null=True)
    text = fields.TextField()
    context = fields.TextField(null=True)
    url = fields.CharField(max_length=1000, null=True)
    posted_at = fields.DatetimeField()
    run = fields.ForeignKeyField("models.FeedbackRun", related_name=False, null=True, on_delete=fields.SET_NULL)
    analysed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "feedback_messages"
        unique_together = (("team", "source", "external_id"),)


class FeedbackInsight(Model):
    """A documentation problem found in a message: the candidate that is embedded and clustered."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    message = fields.ForeignKeyField("models.FeedbackMessage", related_name=False, on_delete=fields.CASCADE)
    problem = fields.TextField()
    tried = fields.TextField(null=True)
    missing = fields.TextField(null=True)
    quote = fields.TextField()
    embedding = VectorField(DIMENSION)
    embedding_model = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "feedback_insights"


class FeedbackCluster(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    run = fields.ForeignKeyField("models.FeedbackRun", related_name=False, null=True, on_delete=fields.SET_NULL)
    title = fields.TextField()
    size = fields.IntField()
    people = fields.IntField()
    first_seen = fields.DatetimeField()
    last_seen = fields.DatetimeField()
    significant = fields.BooleanField()
    centroid = VectorField(DIMENSION)
    # A plain id, not a relation: tickets point at their cluster, and Tortoise refuses a cycle of relations.
    ticket_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "feedback_clusters"


class FeedbackClusterMember(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    cluster = fields.ForeignKeyField("models.FeedbackCluster", related_name=False, on_delete=fields.CASCADE)
    insight = fields.ForeignKeyField(
        "models.FeedbackInsight", related_name=False, unique=True, on_delete=fields.CASCADE
    )
    message = fields.ForeignKeyField("models.FeedbackMessage", related_name=False, on_delete=fields.CASCADE)

    class Meta:
        table = "feedback_cluster_members"


class DocTicket(Model):
    """A documentation ticket: a draft in Adjutant, then a Jira or Linear issue followed to resolution."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    cluster = fields.ForeignKeyField("models.FeedbackCluster", related_name=False, null=True, on_delete=fields.SET_NULL)
    status = fields.CharField(max_length=16, default="draft")  # draft | open | resolved | reopened | rejected
    title = fields.CharField(max_length=250)
    summary = fields.TextField()
    suggestion = fields.TextField(null=True)
    pages = fields.JSONField(default=list)  # [{title, url, score}] the related documentation pages
    evidence_count = fields.IntField(default=0)
    embedding = VectorField(DIMENSION)
    tracker = fields.CharField(max_length=16, null=True)  # jira | linear
    connection = fields.ForeignKeyField("models.Integration", related_name=False, null=True, on_delete=fields.SET_NULL)
    external_id = fields.CharField(max_length=100, null=True)
    external_url = fields.CharField(max_length=1000, null=True)
    external_status = fields.CharField(max_length=100, null=True)
    approved_by = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    approved_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    notified_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "doc_tickets"
        unique_together = (("team", "tracker", "external_id"),)


class DocTicketEvidence(Model):
    """A message that is evidence of a ticket; `reported` once the tracker's issue shows it."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    ticket = fields.ForeignKeyField("models.DocTicket", related_name=False, on_delete=fields.CASCADE)
    message = fields.ForeignKeyField("models.FeedbackMessage", related_name=False, on_delete=fields.CASCADE)
    run = fields.ForeignKeyField("models.FeedbackRun", related_name=False, null=True, on_delete=fields.SET_NULL)
    reported = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "doc_ticket_evidence"
        unique_together = (("ticket", "message"),)
