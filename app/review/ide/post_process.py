"""Post-processing a review (docs/review-protocol.md §6.4): the runs still going are stopped and count as
failed, each completed run's findings are validated against the diff at its agent's threshold, findings on
the same line are blended into one comment naming all their agents, and the review is completed, with its
comments, in one commit before the client hears of it. Idempotent, bounded by a timeout."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.models import IdeReview
from app.db.ownership import Owner, parse_id
from app.db.repositories import ide_review_runs as runs_repo
from app.db.repositories import ide_reviews as repo
from app.review.findings import Finding
from app.review.ide import diffs
from app.review.ide.comments import blend, review_title
from app.review.ide.limits import IdeReviewLimits
from app.review.ide.running import RunningReviews
from app.review.ide.service import REJECTED, rejection_message
from app.review.precision import PrecisionPolicy, apply_policy
from app.review.rules import RepositoryRules
from app.review.validation import validate

log = logging.getLogger("adjutant.review")
STOPPED = "stopped at post-process: the client considered the review done"


@dataclass(frozen=True)
class PostProcessed:
    ok: bool
    message: str


class PostProcess:
    def __init__(
        self, *, limits: IdeReviewLimits, running: RunningReviews, policy: PrecisionPolicy | None = None
    ) -> None:
        self.limits = limits
        self.running = running
        self.policy = policy

    async def run(self, owner: Owner, raw_review_id: object) -> PostProcessed:
        review_id = parse_id(raw_review_id)
        review = await repo.owned_review(owner, review_id) if review_id is not None else None
        if review is None:
            return PostProcessed(False, "The review was not found.")
        if review.status == "COMPLETED":
            return PostProcessed(True, "The review is complete.")
        if review.status != "IN_PROGRESS":
            return PostProcessed(False, self._ended(review))
        try:
            async with asyncio.timeout(self.limits.post_process_timeout_s):
                return await self._finish(review)
        except TimeoutError:
            if await repo.fail_review(review.id, "post-process timed out"):
                await self.running.stop(review_ids=[review.id])
            return PostProcessed(False, "Finalizing the review took too long; start a new review.")

    async def _demoted(self, review: IdeReview) -> list[str]:
        """Categories of the review's repository that feedback demoted. The panel has no summary to list
        findings in, so either demotion raises the category's bar above its agent's threshold here."""
        if self.policy is None:
            return []
        name = await repo.repository_name(review.id)
        return (await apply_policy(review.team_id, name, self.policy)).demoted() if name else []

    def _ended(self, review: IdeReview) -> str:
        if review.status in REJECTED:
            return rejection_message(review, self.limits)
        if review.status == "CANCELLED":
            return "The review was cancelled."
        return "The review failed; start a new review."

    async def _finish(self, review: IdeReview) -> PostProcessed:
        stopped = await runs_repo.stop_unfinished_runs(review.id, STOPPED)
        if stopped:
            await self.running.stop(run_ids=stopped)
        files = diffs.parsed(review.file_diffs)
        rules = RepositoryRules()
        demoted = await self._demoted(review)
        found: list[tuple[int, Finding]] = []
        dropped = 0
        for run in await runs_repo.completed_runs(review.id):
            await run.fetch_related("agent")
            findings = [Finding.model_validate(item) for item in run.findings]
            threshold = run.agent.confidence_score
            kept, rejected = validate(
                findings,
                files,
                rules,
                threshold=threshold,
                context_window=self.limits.context_lines,
                category_thresholds={c: min(1.0, threshold + self.policy.step) for c in demoted} if self.policy else {},
            )
            dropped += len(rejected)
            found.extend((run.agent_id, finding) for finding in kept)
        comments = blend(found)
        elapsed = int((datetime.now(UTC) - review.created_at).total_seconds())
        result = await repo.finalize_review(
            review, comments, title=review_title(comments, len(review.reviewed_files)), execution_time_seconds=elapsed
        )
        if result == "ended":
            await review.refresh_from_db(fields=["status", "diff_tokens"])
            return PostProcessed(False, self._ended(review))
        log.info(
            "review %s post-processed: %d comments, %d findings dropped, %d runs stopped",
            review.id,
            len(comments),
            dropped,
            len(stopped),
        )
        return PostProcessed(True, "The review is complete.")
