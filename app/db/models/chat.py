"""Conversations: sessions, user queries, model steps, the chat elements they produce and tool uses."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class Session(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    session_type = fields.CharField(max_length=64)
    summary = fields.TextField()
    summary_generated = fields.BooleanField(default=False)
    pinned_rank = fields.IntField(null=True)
    last_model = fields.CharField(max_length=128, null=True)
    is_auxiliary = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sessions"


class UserQuery(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    session = fields.ForeignKeyField("models.Session", related_name="queries", on_delete=fields.CASCADE)
    text = fields.TextField()
    model = fields.CharField(max_length=128)
    agent = fields.CharField(max_length=64, null=True)
    agent_reason = fields.CharField(max_length=300, null=True)
    retry_reason = fields.CharField(max_length=32, null=True)
    fingerprint = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16, default="RUNNING")
    step_count = fields.IntField(default=0)
    feedback = fields.CharField(max_length=16, null=True)
    summary = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user_queries"


class Step(Model):
    """One model call (or an ack) and its event stream, identified on the wire by `stream_id`."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    session = fields.ForeignKeyField("models.Session", related_name=False, on_delete=fields.CASCADE)
    user_query = fields.ForeignKeyField("models.UserQuery", related_name="steps", on_delete=fields.CASCADE)
    stream_id = fields.CharField(max_length=32, unique=True)
    ordinal = fields.IntField()
    kind = fields.CharField(max_length=16, default="MODEL")
    model = fields.CharField(max_length=128, null=True)
    provider = fields.CharField(max_length=64, null=True)
    status = fields.CharField(max_length=16, default="RUNNING")
    end_event = fields.CharField(max_length=40, null=True)
    error = fields.JSONField(null=True)
    usage = fields.JSONField(null=True)
    cost_usd = fields.DecimalField(max_digits=14, decimal_places=6, null=True)
    request_fingerprint = fields.CharField(max_length=64, null=True)
    continues_step = fields.ForeignKeyField("models.Step", related_name=False, null=True, on_delete=fields.SET_NULL)
    started_at = fields.DatetimeField(auto_now_add=True)
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "steps"


class ChatElement(Model):
    """One item of the rendered history (docs/protocol.md §10.2), ordered by id."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    session = fields.ForeignKeyField("models.Session", related_name="elements", on_delete=fields.CASCADE)
    user_query = fields.ForeignKeyField("models.UserQuery", related_name=False, null=True, on_delete=fields.CASCADE)
    step = fields.ForeignKeyField("models.Step", related_name=False, null=True, on_delete=fields.SET_NULL)
    actor = fields.CharField(max_length=16)
    message_type = fields.CharField(max_length=32)
    payload = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "chat_elements"


class ToolUse(Model):
    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    session = fields.ForeignKeyField("models.Session", related_name=False, on_delete=fields.CASCADE)
    step = fields.ForeignKeyField("models.Step", related_name="tool_uses", on_delete=fields.CASCADE)
    chat_element = fields.ForeignKeyField(
        "models.ChatElement", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    tool_use_id = fields.CharField(max_length=64)
    tool_name = fields.CharField(max_length=128)
    position = fields.IntField()
    executor = fields.CharField(max_length=16, default="CLIENT")
    tool_input = fields.JSONField()
    tool_response = fields.JSONField(null=True)
    status = fields.CharField(max_length=16, default="PENDING")
    call_index = fields.IntField(default=1)  # which model call of its step asked for it (1-based)
    created_at = fields.DatetimeField(auto_now_add=True)
    answered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "tool_uses"
        unique_together = (("session", "tool_use_id"),)


class TranscriptMessage(Model):
    """One provider-neutral message of the conversation, exactly as the model saw it."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    session = fields.ForeignKeyField("models.Session", related_name=False, on_delete=fields.CASCADE)
    user_query = fields.ForeignKeyField("models.UserQuery", related_name=False, null=True, on_delete=fields.CASCADE)
    step = fields.ForeignKeyField("models.Step", related_name=False, null=True, on_delete=fields.SET_NULL)
    role = fields.CharField(max_length=16)
    message = fields.JSONField()
    answers_call = fields.IntField(null=True)  # a tool-results message: the model call of its step it answers
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "transcript_messages"
