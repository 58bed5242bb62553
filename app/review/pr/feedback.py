"""Feedback on our pull-request comments, read when a review runs: thumbs on each open comment (one call per
comment, at most MAX_COMMENTS), a thread resolved by a person while its lines did not change (not useful), and
lines a later commit changed (the finding was acted on: useful). Each becomes a signal stored once; reading
feedback never fails a review."""

from __future__ import annotations

import logging

from app.db.models import PrReviewComment
from app.db.repositories import review_feedback as signals
from app.db.repositories.review_feedback import Signal
from app.errors import IntegrationError
from app.integrations.types import PullRequest, PullRequestComment
from app.review.pr.platforms import Platform

log = logging.getLogger("adjutant.review")
MAX_COMMENTS = 50  # newest open comments whose reactions one run reads
BOT = "adjutant"  # the actor of what the bot itself observed (a resolution, a change of lines)


def signal(source: str, repo: str, comment: PrReviewComment, kind: str, actor: str, *, useful: bool) -> Signal:
    return Signal(repo, comment.category.lower(), source, comment.platform_id or str(comment.id), kind, actor, useful)


async def collect(
    team_id: int,
    platform: Platform,
    pr: PullRequest,
    open_comments: list[PrReviewComment],
    on_platform: list[PullRequestComment],
    *,
    changed: set[int],
    unchanged: set[int],
    bot: tuple[str, ...],
) -> int:
    """Record the feedback on `open_comments`; `changed`/`unchanged` are the ids of those whose anchored lines
    a later commit did or did not change (neither when it is not known). Returns the new signals."""
    source, repo = platform.kind, pr.repo
    resolved = {c.id for c in on_platform if c.resolved}
    found: list[Signal] = []
    for comment in open_comments:
        if comment.id in changed:
            found.append(signal(source, repo, comment, "lines_changed", BOT, useful=True))
        elif comment.id in unchanged and comment.platform_id in resolved:
            found.append(signal(source, repo, comment, "resolved_unchanged", BOT, useful=False))
    names = {name.casefold() for name in bot}
    for comment in sorted(open_comments, key=lambda c: -c.id)[:MAX_COMMENTS]:
        if not comment.platform_id:
            continue
        try:
            reactions = await platform.reactions(pr, comment.platform_id)
        except IntegrationError as exc:  # a deleted comment, a token that may not read reactions: skip it
            log.info("reactions of %s on %s unread: %s", comment.platform_id, repo, exc.detail)
            continue
        for reaction in reactions:
            if reaction.login and reaction.login.casefold() not in names:
                kind = "thumbs_up" if reaction.useful else "thumbs_down"
                found.append(signal(source, repo, comment, kind, reaction.login, useful=reaction.useful))
    new = 0
    for entry in found:
        new += await signals.record(team_id, entry)
    return new
