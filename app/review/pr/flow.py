"""One review of one pull request, start to finish: read it, its diff, its comments and our last review of it;
review only what changed since that review when the new head builds on it; keep the findings that can be
placed on the pull request's diff and were never posted before; then (when posting) post them, mark the
comments whose lines changed, label, approve or request changes when allowed, and rewrite the one summary.

A run holds a short lease on the pull request while it posts, so two pushes in quick succession never post
the same finding twice; a finding's fingerprint is claimed in the database before its comment is posted, and
comments found on the platform with our marker count as posted (a run that died mid-post is not repeated).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from app.db.models import PrReview, PrReviewComment, PrReviewPull
from app.db.repositories import audit
from app.db.repositories import pr_reviews as store
from app.errors import IntegrationNotFound, ReviewRulesInvalid
from app.integrations.connection import ConnectionInfo
from app.integrations.types import PullRequest, PullRequestComment, TrackerIssue
from app.review.conversation import ReviewContext, ReviewModel
from app.review.diff import FileDiff, parse_unified_diff
from app.review.engine import ReviewResult, review_diff
from app.review.findings import LINE_BUCKET, Finding, normalise
from app.review.pr import feedback
from app.review.pr.anchors import anchor
from app.review.pr.approval import STATE_AFTER, Decision, decide, refusal
from app.review.pr.bodies import finding_body, fingerprints_in, is_summary, outdated_body
from app.review.pr.labels import labels_for
from app.review.pr.outdated import follow, relocate_all
from app.review.pr.platforms import RULES_FILE, RULES_MAX_BYTES, LineDraft, Platform, Posted, same_commit
from app.review.pr.summary_comment import LinkedTicket, OpenFinding, PastRun, SummaryView, summary_body
from app.review.pr.tickets import LinkedTickets, TicketSource
from app.review.pr.tools import READ_FILE, file_reader
from app.review.precision import PrecisionPolicy, apply_policy
from app.review.reviewers import reviewers_for
from app.review.rules import RepositoryRules, load_rules
from app.runtime.settings import Settings

log = logging.getLogger("adjutant.review")
MAX_COMMENTS_PER_RUN = 30  # more comments than this on one push is noise; the rest stay in the summary
LEASE_S = 900.0
Status = Literal["COMPLETED", "SKIPPED", "FAILED"]


class ReviewBusy(Exception):
    """Another run holds the pull request; this one is tried again later."""


@dataclass(frozen=True)
class ReviewRequest:
    team_id: int
    connection: ConnectionInfo
    repo: str
    number: int
    head_sha: str | None  # the head the webhook named; None: whatever the head is now
    trigger: Literal["webhook", "cli", "command"]
    posting: bool
    job_id: int | None = None
    full: bool = False  # review the whole pull request again, even a head reviewed before (/adjutant review)


@dataclass
class ReviewOutcome:
    status: Status
    reason: str | None = None
    run_id: int | None = None
    pr: PullRequest | None = None
    incremental: bool = False
    base_sha: str | None = None
    result: ReviewResult | None = None
    drafts: list[LineDraft] = field(default_factory=list)
    posted: list[tuple[LineDraft, Posted | str]] = field(default_factory=list)
    outdated: list[PrReviewComment] = field(default_factory=list)
    dropped: list[tuple[Finding, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    approval: Decision | None = None
    approval_refused: str | None = None
    approval_done: bool = False
    summary: str = ""
    summary_url: str | None = None
    tickets: LinkedTickets = field(default_factory=LinkedTickets)
    summary_only: list[Finding] = field(default_factory=list)  # of demoted categories: not posted inline

    def brief(self) -> dict[str, Any]:
        """What a job's record keeps of the run."""
        return {
            "status": self.status,
            "reason": self.reason,
            "review_id": self.run_id,
            "head_sha": self.pr.head_sha if self.pr else None,
            "incremental": self.incremental,
            "comments_posted": sum(1 for _, posted in self.posted if isinstance(posted, Posted)),
            "outdated": len(self.outdated),
            "dropped": len(self.dropped),
            "approval": self.approval if self.approval_done else None,
            "approval_refused": self.approval_refused,
        }


@dataclass
class _Prior:
    """What is known from before this run: our stored comments, and the comments the platform shows that
    the bot's own identity wrote (a marker in someone else's comment proves nothing)."""

    stored: list[PrReviewComment]
    on_platform: list[PullRequestComment]
    bot: tuple[str, ...]

    def _ours(self) -> list[PullRequestComment]:
        names = {name.casefold() for name in self.bot}
        return [c for c in self.on_platform if c.author and c.author.casefold() in names]

    def marked(self) -> dict[str, PullRequestComment]:
        return {fp: c for c in self._ours() for fp in fingerprints_in(c.body) if not is_summary(c.body)}

    def summary_id(self) -> str | None:
        return next((c.id for c in self._ours() if is_summary(c.body) and c.path is None), None)


class PullRequestReview:
    def __init__(
        self, settings: Settings, model: ReviewModel, *, lease_s: float = LEASE_S, tickets: TicketSource | None = None
    ) -> None:
        self.settings = settings
        self.model = model
        self.lease_s = lease_s
        self.tickets = tickets  # None: reviewed without linked tickets

    async def run(self, request: ReviewRequest, platform: Platform) -> ReviewOutcome:
        pr = await platform.pull_request(request.repo, request.number)
        skip = _skip_reason(pr, request)
        if skip is not None:
            return ReviewOutcome("SKIPPED", skip, pr=pr)
        pull = await self._pull(request, pr)
        head = pr.head_sha or ""
        holder = None
        if request.posting and pull is not None:
            done = None if request.full else await store.posted_run_of(pull.id, head)
            if done is not None:
                return ReviewOutcome("SKIPPED", f"{head[:12]} was reviewed before (review {done.id})", done.id, pr)
            holder = f"job:{request.job_id}" if request.job_id else f"run:{uuid.uuid4().hex[:12]}"
            if not await store.lease(pull.id, holder, self.lease_s):
                raise ReviewBusy(f"another review of {request.repo}#{request.number} is running")
        run = None
        if request.posting and pull is not None:
            run = await store.start_run(
                pull, head_sha=head, trigger=request.trigger, posting=True, job_id=request.job_id
            )
        try:
            outcome = await self._review(request, platform, pr, pull, run)
        except BaseException as exc:
            if run is not None:
                await store.finish_run(run, "FAILED", reason=f"{exc.__class__.__name__}: {exc}"[:2000])
            raise
        finally:
            if holder is not None and pull is not None:
                await store.release(pull.id, holder)
        outcome.run_id = run.id if run is not None else None
        return outcome

    async def _pull(self, request: ReviewRequest, pr: PullRequest) -> PrReviewPull | None:
        if not request.posting:  # a dry run reads what earlier runs left, and writes nothing
            return await store.find_pull(request.connection.id, pr.repo, pr.number)
        return await store.pull_for(
            request.team_id, request.connection.id, pr.repo, pr.number, title=pr.title, author=pr.author, url=pr.url
        )

    async def _review(
        self,
        request: ReviewRequest,
        platform: Platform,
        pr: PullRequest,
        pull: PrReviewPull | None,
        run: PrReview | None,
    ) -> ReviewOutcome:
        head = pr.head_sha or ""
        try:
            rules = load_rules(
                await platform.read_file(pr.repo, RULES_FILE, pr.target_branch or head, max_bytes=RULES_MAX_BYTES)
            )
        except ReviewRulesInvalid as exc:
            reason = f"the {RULES_FILE} of {pr.target_branch or 'the target branch'} is invalid: {exc.detail}"
            return await self._finished(run, ReviewOutcome("FAILED", reason, pr=pr))
        if not rules.enabled:
            return await self._finished(run, ReviewOutcome("SKIPPED", "review is switched off by the rules", pr=pr))
        whole = parse_unified_diff(await platform.pull_request_diff(pr.repo, pr.number))
        by_path = {diff.path: diff for diff in whole}
        prior = _Prior(
            stored=await store.pull_comments(pull.id) if pull is not None else [],
            on_platform=await platform.comments(pr.repo, pr.number),
            bot=await platform.bot_names(),
        )
        if request.posting:
            await self._reconcile(prior, request, pull, run)
        files, base, moves = whole, None, {}
        last = pull.last_reviewed_sha if pull is not None else None
        if last and not request.full and not same_commit(last, head):
            changes = await platform.changes_since(pr.repo, last, head)
            if changes is not None:  # the head builds on what was reviewed: only the new commits
                base = last
                changed = {diff.path: diff for diff in changes}
                files = [diff for diff in changes if diff.path in by_path]
                moves = {c.id: follow(c.line, c.end_line, changed.get(c.path)) for c in _open(prior.stored)}
            else:  # rewritten history: the whole pull request again, and each comment looked for in its diff
                moves = await relocate_all(
                    _open(prior.stored), by_path, lambda path, sha: platform.read_file(pr.repo, path, sha)
                )
        if request.posting:
            await self._feedback(request, platform, pr, prior, moves, same_commit(last, head))
        policy = PrecisionPolicy.of(self.settings.review, rules)
        demotions = await apply_policy(request.team_id, pr.repo, policy, record=request.posting)
        wanted = self.tickets is not None and any(r.reads_tickets for r in reviewers_for(rules))
        linked = await self.tickets.linked(request.team_id, pr) if wanted and self.tickets else LinkedTickets()
        result = await self._engine(files, pr, rules, platform, demotions.thresholds(), linked.found)
        outcome = ReviewOutcome("COMPLETED", pr=pr, incremental=base is not None, base_sha=base, result=result)
        outcome.tickets = linked
        outcome.summary_only = [f for f in result.findings if f.category in demotions.summary_only()]
        outcome.outdated = [c for c in _open(prior.stored) if c.id in moves and moves[c.id] is None]
        outcome.dropped = list(result.dropped)
        inline = [f for f in result.findings if f not in outcome.summary_only]
        outcome.drafts = self._drafts(inline, by_path, prior, moves, platform.kind, outcome.dropped)
        outcome.dropped += [(f, f"summary_only: {f.category} is demoted by feedback") for f in outcome.summary_only]
        still_open = [c for c in _open(prior.stored) if c not in outcome.outdated]
        pairs = [(c.severity, c.category) for c in still_open] + [
            (d.finding.severity, d.finding.category) for d in outcome.drafts
        ]
        outcome.labels = [
            label for label in labels_for(rules.labels, pairs, title=pr.title, paths=by_path) if label not in pr.labels
        ]
        if outcome.labels and not platform.can_label:
            outcome.labels = []
        await self._decide(outcome, request, platform, pr, pull, rules, [s for s, _ in pairs], prior.bot)
        if not request.posting or pull is None or run is None:
            outcome.summary = self._summary(outcome, platform.kind, whole, still_open, [], posting=False)
            return outcome
        await self._post(outcome, request, platform, pr, pull, run, prior, moves, whole)
        return await self._finished(run, outcome)

    async def _reconcile(
        self, prior: _Prior, request: ReviewRequest, pull: PrReviewPull | None, run: PrReview | None
    ) -> None:
        """Claims left PENDING by a run that died after posting: the platform shows the comment (by its
        marker), so it is recorded as posted instead of being posted again."""
        marked = prior.marked()
        for comment in prior.stored:
            found = marked.get(comment.fingerprint)
            if comment.state == "PENDING" and found is not None and pull is not None and run is not None:
                await store.update_comment(
                    comment, state="POSTED", platform_id=found.id, thread_id=found.thread_id, url=found.url
                )
                reason = "found on the pull request after an interrupted run"
                await Actor(pull.team_id, request.connection, run).record("comment.posted", comment, reason)

    async def _feedback(
        self,
        request: ReviewRequest,
        platform: Platform,
        pr: PullRequest,
        prior: _Prior,
        moves: dict[int, tuple[int, int] | None],
        same_head: bool,
    ) -> None:
        """Signals on our open comments, before the policy they feed is applied to this run."""
        still = _open(prior.stored)
        known = {c.id for c in still} if same_head else {i for i, moved in moves.items() if moved is not None}
        await feedback.collect(
            request.team_id,
            platform,
            pr,
            still,
            prior.on_platform,
            changed={i for i, moved in moves.items() if moved is None},
            unchanged=known,
            bot=prior.bot,
        )

    async def _engine(
        self,
        files: list[FileDiff],
        pr: PullRequest,
        rules: RepositoryRules,
        platform: Platform,
        category_thresholds: dict[str, float],
        tickets: list[TrackerIssue],
    ) -> ReviewResult:
        head = pr.head_sha or ""
        context = ReviewContext(title=pr.title, description=pr.body, tickets=tickets, rules=rules, repo=pr.repo)
        reader = file_reader(lambda path: platform.read_file(pr.repo, path, head))
        return await review_diff(
            files,
            context,
            model=self.model,
            reviewers=reviewers_for(rules),
            settings=self.settings,
            run_tool=reader,
            tools=(READ_FILE,),
            category_thresholds=category_thresholds,
        )

    def _drafts(
        self,
        findings: list[Finding],
        by_path: dict[str, FileDiff],
        prior: _Prior,
        moves: dict[int, tuple[int, int] | None],
        platform: str,
        dropped: list[tuple[Finding, str]],
    ) -> list[LineDraft]:
        """The findings to post: placed on the pull request's diff, never posted before (by fingerprint, or
        by the same title a few lines away from an open comment), at most MAX_COMMENTS_PER_RUN."""
        # A PENDING row is a claim whose comment never reached the platform: the finding may be posted again.
        taken = {c.fingerprint for c in prior.stored if c.state != "PENDING"} | set(prior.marked())
        open_places = []
        for comment in _open(prior.stored):
            moved = moves.get(comment.id, (comment.line, comment.end_line))
            if moved is not None:
                open_places.append((comment.path, normalise(comment.title), moved[0]))
        drafts: list[LineDraft] = []
        for finding in findings:
            place = anchor(finding, by_path.get(finding.path))
            if place is None:
                dropped.append((finding, f"not_in_pull_request: line {finding.line} is not in the pull request's diff"))
                continue
            if finding.fingerprint in taken:
                dropped.append((finding, f"already_posted: {finding.fingerprint} is on the pull request already"))
                continue
            title = normalise(finding.title)
            if any(
                p == finding.path and t == title and abs(line - finding.line) <= LINE_BUCKET
                for p, t, line in open_places
            ):
                dropped.append((finding, "already_posted: an open comment says this a few lines away"))
                continue
            if len(drafts) >= MAX_COMMENTS_PER_RUN:
                dropped.append((finding, f"comment_cap: over {MAX_COMMENTS_PER_RUN} comments in one run"))
                continue
            lines = place.lines if place.whole_range else None
            body = finding_body(finding, platform=platform, suggestion_lines=lines)
            drafts.append(LineDraft(finding, place, body))
            taken.add(finding.fingerprint)
        return drafts

    async def _decide(
        self,
        outcome: ReviewOutcome,
        request: ReviewRequest,
        platform: Platform,
        pr: PullRequest,
        pull: PrReviewPull | None,
        rules: RepositoryRules,
        severities: list[str],
        bot: tuple[str, ...],
    ) -> None:
        decision = decide(rules.approval, severities)
        if decision is None:
            return
        outcome.approval = decision
        if pull is not None and pull.approval_state == STATE_AFTER[decision]:
            return  # given before and still right: not given again
        allowed = await store.connection_settings(request.connection.id)
        outcome.approval_refused = refusal(
            decision,
            may_approve=bool(allowed and allowed.may_approve),
            may_request_changes=bool(allowed and allowed.may_request_changes),
            author=pr.author,
            bot=bot,
            connection=request.connection.name,
            platform_can_request_changes=platform.can_request_changes,
        )

    async def _post(
        self,
        outcome: ReviewOutcome,
        request: ReviewRequest,
        platform: Platform,
        pr: PullRequest,
        pull: PrReviewPull,
        run: PrReview,
        prior: _Prior,
        moves: dict[int, tuple[int, int] | None],
        whole: list[FileDiff],
    ) -> None:
        actor = Actor(pull.team_id, request.connection, run)
        head = pr.head_sha or ""
        outcome.posted = await self._post_comments(outcome.drafts, platform, pr, pull, run, prior, actor)
        for comment in outcome.outdated:
            body = outdated_body(
                severity=comment.severity,
                category=comment.category,
                title=comment.title,
                fingerprint=comment.fingerprint,
                sha=head,
                platform=platform.kind,
            )
            state = await platform.mark_outdated(pr, comment.platform_id or "", comment.thread_id, body)
            reason = f"the lines it was about changed in {head[:12]}"
            await store.update_comment(comment, state=state, state_reason=reason)
            await actor.record("comment.resolved" if state == "RESOLVED" else "comment.outdated", comment, reason)
        for comment in _open(prior.stored):
            moved = moves.get(comment.id)
            if moved is not None and moved != (comment.line, comment.end_line):
                # commit_sha is the commit its line numbers are counted at (a force-push reads the file there)
                await store.update_comment(comment, line=moved[0], end_line=moved[1], commit_sha=head)
        if outcome.labels:
            await platform.add_labels(pr, outcome.labels)
            for label in outcome.labels:
                reason = "from the review's findings and the kind of change"
                await actor.event("label.added", "pull_request", _target(pr), reason, {"label": label})
        await self._approve(outcome, platform, pr, pull, actor)
        open_now = [c for c in await store.pull_comments(pull.id) if c.state == "POSTED"]
        history = [r for r in await store.recent_runs(pull.id) if r.id != run.id]
        outcome.summary = self._summary(outcome, platform.kind, whole, open_now, history, posting=True)
        summary = await self._summary_comment(outcome.summary, platform, pr, pull, prior, actor)
        outcome.summary_url = summary.url
        state = STATE_AFTER[outcome.approval] if outcome.approval_done and outcome.approval else pull.approval_state
        await store.record_reviewed(pull, head_sha=head, summary_comment_id=summary.id, approval_state=state)

    async def _post_comments(
        self,
        drafts: list[LineDraft],
        platform: Platform,
        pr: PullRequest,
        pull: PrReviewPull,
        run: PrReview,
        prior: _Prior,
        actor: Actor,
    ) -> list[tuple[LineDraft, Posted | str]]:
        marked = prior.marked()
        done: list[tuple[LineDraft, Posted | str]] = []
        waiting: list[tuple[LineDraft, PrReviewComment]] = []
        for draft in drafts:
            finding, place = draft.finding, draft.anchor
            row = await store.claim_comment(
                pull,
                run,
                {
                    "fingerprint": finding.fingerprint,
                    "path": place.path,
                    "line": place.line,
                    "end_line": place.end_line,
                    "severity": finding.severity,
                    "category": finding.category[:60],
                    "title": finding.title,
                    "commit_sha": pr.head_sha or "",
                },
            )
            if row is None:  # a concurrent run took it
                continue
            found = marked.get(finding.fingerprint)
            if found is not None:  # posted by a run that died before recording it
                posted = Posted(id=found.id, thread_id=found.thread_id, url=found.url)
                await store.update_comment(
                    row, state="POSTED", platform_id=posted.id, thread_id=posted.thread_id, url=posted.url
                )
                done.append((draft, posted))
                continue
            waiting.append((draft, row))
        outcomes = await platform.post_comments(pr, [draft for draft, _ in waiting])
        for (draft, row), result in zip(waiting, outcomes, strict=True):
            if isinstance(result, Posted):
                await store.update_comment(
                    row, state="POSTED", platform_id=result.id, thread_id=result.thread_id, url=result.url
                )
                await actor.record("comment.posted", row, f"{draft.finding.reviewer}: {draft.finding.title}")
            else:
                await store.update_comment(row, state="FAILED", state_reason=result[:2000])
                log.info("review comment on %s:%s refused: %s", row.path, row.line, result)
            done.append((draft, result))
        return done

    async def _approve(
        self, outcome: ReviewOutcome, platform: Platform, pr: PullRequest, pull: PrReviewPull, actor: Actor
    ) -> None:
        decision = outcome.approval
        if decision is None or pull.approval_state == STATE_AFTER[decision]:
            return
        if outcome.approval_refused is not None:
            await actor.event(
                "approval.refused", "pull_request", _target(pr), outcome.approval_refused, {"decision": decision}
            )
            return
        if decision == "APPROVE":
            await platform.approve(pr)
            await actor.event("approval.approved", "pull_request", _target(pr), "no open finding blocks it")
        else:
            await platform.request_changes(
                pr,
                "Changes requested: open findings at or above the blocking severity; the summary comment lists them.",
            )
            await actor.event("approval.changes_requested", "pull_request", _target(pr), "open findings block it")
        outcome.approval_done = True

    async def _summary_comment(
        self, body: str, platform: Platform, pr: PullRequest, pull: PrReviewPull, prior: _Prior, actor: Actor
    ) -> Posted:
        """Edit the one summary comment (ours by id, or found by its marker); post it only when there is none."""
        existing = pull.summary_comment_id or prior.summary_id()
        if existing:
            try:
                posted = await platform.edit_summary(pr, existing, body)
            except IntegrationNotFound:  # someone deleted it: post a new one
                existing = None
            else:
                await actor.event("summary.edited", "comment", posted.url or posted.id, "a new review run")
                return posted
        posted = await platform.post_note(pr, body)
        await actor.event("summary.posted", "comment", posted.url or posted.id, "the first review of this pull request")
        return posted

    def _summary(
        self,
        outcome: ReviewOutcome,
        platform: str,
        whole: list[FileDiff],
        open_comments: list[PrReviewComment],
        history: list[PrReview],
        *,
        posting: bool,
    ) -> str:
        result = outcome.result
        open_findings = [OpenFinding(c.severity, c.path, c.line, c.title, c.url) for c in open_comments]
        if not posting:  # a dry run: what it would post counts as open
            open_findings += [
                OpenFinding(d.finding.severity, d.anchor.path, d.anchor.line, d.finding.title) for d in outcome.drafts
            ]
        new_comments = sum(isinstance(p, Posted) for _, p in outcome.posted) if posting else len(outcome.drafts)
        return summary_body(
            SummaryView(
                platform=platform,
                head_sha=(outcome.pr.head_sha or "") if outcome.pr else "",
                base_sha=outcome.base_sha,
                files=whole,
                reviewed=result.files_reviewed if result else [],
                omitted=result.omitted if result else [],
                open_findings=open_findings,
                new_comments=new_comments,
                outdated=len(outcome.outdated),
                dropped=len(outcome.dropped),
                reviewers_failed=result.reviewers_failed if result else [],
                labels=outcome.labels,
                decision=_decision_text(outcome, posting=posting),
                tickets=[
                    LinkedTicket(t.key, t.title[:200], t.url, len(t.acceptance_criteria)) for t in outcome.tickets.found
                ],
                ticket_notes=outcome.tickets.notes,
                summary_only=[OpenFinding(f.severity, f.path, f.line, f.title) for f in outcome.summary_only],
                history=[
                    PastRun(
                        r.head_sha, r.incremental, len(r.findings or []), r.started_at.strftime("%Y-%m-%d %H:%M UTC")
                    )
                    for r in history
                ],
            )
        )

    async def _finished(self, run: PrReview | None, outcome: ReviewOutcome) -> ReviewOutcome:
        if run is None:
            return outcome
        result = outcome.result
        await store.finish_run(
            run,
            outcome.status,
            base_sha=outcome.base_sha,
            incremental=outcome.incremental,
            reason=outcome.reason,
            findings=[_finding_json(f) for f in result.findings] if result else [],
            dropped=[{"finding": _finding_json(f), "reason": r} for f, r in outcome.dropped],
            omitted=[{"path": p, "reason": r} for p, r in (result.omitted if result else [])],
            files_reviewed=result.files_reviewed if result else [],
            counts=(result.counts if result else {})
            | {"posted": sum(isinstance(p, Posted) for _, p in outcome.posted), "outdated": len(outcome.outdated)},
            labels=outcome.labels,
            approval=outcome.approval,
            approval_done=outcome.approval_done,
            approval_refused=outcome.approval_refused,
        )
        return outcome


@dataclass
class Actor:
    """The bot acting through a connection, as the audit trail names it."""

    team_id: int
    connection: ConnectionInfo
    run: PrReview

    async def record(self, action: str, comment: PrReviewComment, reason: str) -> None:
        target = comment.url or f"{comment.path}:{comment.line}"
        await self.event(action, "comment", target, reason, {"fingerprint": comment.fingerprint})

    async def event(
        self, action: str, target_type: str, target: str, reason: str, details: dict[str, Any] | None = None
    ) -> None:
        await audit.record(
            self.team_id,
            actor_type="bot",
            actor_name=f"adjutant via {self.connection.kind} connection {self.connection.name}",
            action=action,
            target_type=target_type,
            target=target,
            reason=reason,
            details={"review_id": self.run.id, **(details or {})},
        )


def _skip_reason(pr: PullRequest, request: ReviewRequest) -> str | None:
    if pr.state in ("closed", "merged"):
        return f"the pull request is {pr.state}"
    if pr.state == "draft" and request.trigger == "webhook":
        return "the pull request is a draft"
    if not pr.head_sha:
        return "the pull request has no head commit"
    if request.head_sha and not same_commit(request.head_sha, pr.head_sha):
        return f"superseded: the head is now {pr.head_sha[:12]} (its own delivery reviews it)"
    return None


def _open(comments: list[PrReviewComment]) -> list[PrReviewComment]:
    return [c for c in comments if c.state == "POSTED"]


def _target(pr: PullRequest) -> str:
    return pr.url or f"{pr.repo}#{pr.number}"


def _finding_json(finding: Finding) -> dict[str, Any]:
    return finding.model_dump(mode="json") | {"fingerprint": finding.fingerprint}


def _decision_text(outcome: ReviewOutcome, *, posting: bool) -> str:
    if outcome.approval is None:
        return ""
    what = "approve" if outcome.approval == "APPROVE" else "request changes"
    if outcome.approval_refused:
        return f"The rules ask to {what}; not done: {outcome.approval_refused}."
    if outcome.approval_done:
        return "Approved." if outcome.approval == "APPROVE" else "Changes requested."
    if not posting:
        return f"The rules ask to {what}; it would be done when posting."
    return f"The rules ask to {what}: given earlier, and still right."
