"""The server-side review driver: pack the diff, run every reviewer over every part in parallel (bounded),
run the tools they ask for through `run_tool`, validate, optionally critique, and summarise.

The IDE review drives `ReviewerConversation` itself (its tools run in the client); the PR review and
`adjutant review --diff` use this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.llm.types import ToolCallPart, ToolSpec, Usage
from app.review.conversation import (
    Failed,
    Findings,
    ReviewContext,
    ReviewerConversation,
    ReviewModel,
    ToolRequests,
)
from app.review.critic import critique
from app.review.diff import FileDiff
from app.review.findings import Finding
from app.review.packing import PackedDiff, pack_with_omissions
from app.review.reviewers import ReviewerSpec
from app.review.summary import severity_counts, summary_markdown
from app.review.validation import validate
from app.runtime.settings import ReviewSettings, Settings

log = logging.getLogger("adjutant.review")
RunTool = Callable[[ToolCallPart], Awaitable[tuple[str, bool]]]  # -> (result text, is_error)


@dataclass
class ReviewResult:
    findings: list[Finding]
    dropped: list[tuple[Finding, str]]
    omitted: list[tuple[str, str]]
    files_reviewed: list[str]
    summary_markdown: str
    counts: dict[str, int]
    reviewers_failed: list[str]
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # unusable report entries
    usage: Usage = field(default_factory=Usage)

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.model_dump(mode="json") | {"fingerprint": f.fingerprint} for f in self.findings],
            "dropped": [{"finding": f.model_dump(mode="json"), "reason": reason} for f, reason in self.dropped],
            "omitted": [{"path": path, "reason": reason} for path, reason in self.omitted],
            "files_reviewed": self.files_reviewed,
            "summary_markdown": self.summary_markdown,
            "counts": self.counts,
            "reviewers_failed": self.reviewers_failed,
            "rejected": [{"entry": entry, "reason": reason} for entry, reason in self.rejected],
            "usage": self.usage.model_dump(mode="json"),
        }


async def review_diff(
    files: list[FileDiff],
    context: ReviewContext,
    *,
    model: ReviewModel,
    reviewers: list[ReviewerSpec],
    settings: Settings | ReviewSettings,
    run_tool: RunTool | None = None,
    tools: tuple[ToolSpec, ...] = (),
    category_thresholds: dict[str, float] | None = None,
) -> ReviewResult:
    """Review `files`; `tools` (server tools, run by `run_tool`) are offered only when `run_tool` is given."""
    review = settings.review if isinstance(settings, Settings) else settings
    rules = context.rules
    if not rules.enabled:
        omitted = [(diff.path, "review is switched off by the repository's review rules") for diff in files]
        return _result([], [], omitted, [], [], [], Usage())
    budget = min(review.budget_tokens, max(model.input_token_limit() // 2, 1000))
    parts, omitted = pack_with_omissions(files, rules, budget_tokens=budget, max_parts=review.max_parts)
    if not parts or not reviewers:
        return _result([], [], omitted, [], [], [], Usage())
    gate = asyncio.Semaphore(review.parallel_passes)
    offered = tools if run_tool is not None else ()

    async def one_pass(reviewer: ReviewerSpec, part: PackedDiff) -> tuple[ReviewerConversation, Findings | Failed]:
        async with gate:
            conversation = ReviewerConversation.start(
                reviewer,
                context,
                part,
                tools=offered,
                max_tool_steps=review.max_tool_steps,
                tool_result_tokens=review.tool_result_tokens,
            )
            outcome = await conversation.step(model)
            while isinstance(outcome, ToolRequests):
                for call in outcome.calls:
                    text, is_error = await _run(run_tool, call)
                    conversation.add_tool_result(call.id, text, is_error=is_error)
                outcome = await conversation.step(model)
            return conversation, outcome

    tasks = [asyncio.create_task(one_pass(r, part)) for r in reviewers for part in parts]
    try:
        passes = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # one pass broke (or the review was cancelled): stop the others too
            task.cancel()
        raise
    found: list[Finding] = []
    rejected: list[tuple[dict[str, Any], str]] = []
    failed: list[str] = []
    usage = Usage()
    for conversation, outcome in passes:
        usage = usage + conversation.usage
        if isinstance(outcome, Findings):
            found += outcome.findings
            rejected += outcome.rejected
        elif conversation.reviewer.key not in failed:
            log.warning("reviewer failed", extra={"reviewer": conversation.reviewer.key, "reason": outcome.reason})
            failed.append(conversation.reviewer.key)
    kept, dropped = validate(
        found,
        files,
        rules,
        threshold=review.confidence_threshold,
        context_window=review.context_lines,
        thresholds={r.key: r.confidence_threshold for r in reviewers},
        category_thresholds=category_thresholds,
    )
    if review.critic and kept:
        kept, refuted = await critique(kept, files, model)
        dropped += refuted
    reviewed = list(dict.fromkeys(path for part in parts for path in part.files))
    return _result(kept, dropped, omitted, reviewed, failed, rejected, usage)


async def _run(run_tool: RunTool | None, call: ToolCallPart) -> tuple[str, bool]:
    if run_tool is None:  # unreachable while no tools are offered without a runner; answered, not raised
        return f"The tool {call.name} is not available here.", True
    try:
        return await run_tool(call)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("review tool %s failed", call.name)
        return f"The tool failed: {exc.__class__.__name__}", True


def _result(
    findings: list[Finding],
    dropped: list[tuple[Finding, str]],
    omitted: list[tuple[str, str]],
    reviewed: list[str],
    failed: list[str],
    rejected: list[tuple[dict[str, Any], str]],
    usage: Usage,
) -> ReviewResult:
    counts = severity_counts(findings) | {
        "findings": len(findings),
        "dropped": len(dropped),
        "rejected": len(rejected),
        "omitted": len(omitted),
        "files_reviewed": len(reviewed),
        "reviewers_failed": len(failed),
    }
    summary = summary_markdown(findings, files_reviewed=reviewed, omitted=omitted, reviewers_failed=failed)
    return ReviewResult(findings, dropped, omitted, reviewed, summary, counts, failed, rejected, usage)
