"""Review feedback (docs/review.md, "Feedback and precision"): signals on our review comments, and the last known
state of each category of a repository, as the precision policy last applied it."""

from __future__ import annotations

from tortoise import fields

from app.db.models.base import Model


class ReviewFeedbackSignal(Model):
    """One signal on one of our comments: useful (acted on, thumbs up) or not (thumbs down, ignored, resolved
    without a change). Unique per source comment, kind and actor, so reading it again never counts it twice."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repository = fields.CharField(max_length=300)
    category = fields.CharField(max_length=64)
    source = fields.CharField(max_length=16)  # github | gitlab | bitbucket | ide
    source_comment = fields.CharField(max_length=64)  # the platform's comment id, or the IDE comment's id
    kind = fields.CharField(max_length=24)
    actor = fields.CharField(max_length=200)  # a platform login, "adjutant" for what the bot saw, or an IDE user id
    useful = fields.BooleanField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "review_feedback_signals"
        unique_together = (("team", "source", "source_comment", "kind", "actor"),)


class ReviewCategoryState(Model):
    """Whether a category of a repository was demoted when its policy was last applied, and by which policy
    (the repository's `.adjutant.toml` may override the server's): the precision API shows it without reading
    the repository, and a change of state is audited once."""

    id = fields.BigIntField(primary_key=True)
    team = fields.ForeignKeyField("models.Team", related_name=False, on_delete=fields.CASCADE)
    repository = fields.CharField(max_length=300)
    category = fields.CharField(max_length=64)
    demoted = fields.BooleanField(default=False)
    precision_floor = fields.FloatField()
    min_signals = fields.IntField()
    demotion = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "review_category_states"
        unique_together = (("team", "repository", "category"),)
