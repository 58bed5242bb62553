"""The critic: one more model call that re-reads the kept findings against the code and rejects the wrong
ones. Optional (`review.critic`); when the call fails, every finding is kept, since the validation pass has
already removed what can be checked mechanically."""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field, ValidationError

from app.errors import LLMError
from app.llm.types import Message, ToolChoice, ToolSpec
from app.review.conversation import ReviewModel
from app.review.diff import FileDiff
from app.review.findings import Finding
from app.review.packing import render_file

log = logging.getLogger("adjutant.review")
CRITIC_TOOL = "submit_verdicts"
MAX_CRITIC_FINDINGS = 60


class Verdict(BaseModel):
    index: int = Field(ge=1, description="The finding's number in the list.")
    keep: bool = Field(description="True when the finding is a real problem in the changed code.")
    reason: str = Field(default="", max_length=500, description="Why, in one sentence, when rejecting.")


class Verdicts(BaseModel):
    verdicts: list[Verdict] = Field(description="One verdict per finding.")


CRITIC_SPEC = ToolSpec.from_model(CRITIC_TOOL, "Submit one verdict per finding.", Verdicts)
INSTRUCTIONS = f"""You check the findings of automated code reviewers before they are posted on a change.
For each numbered finding, read the code it points at and decide whether it is a real problem in the
changed (+) lines that the author should fix. Reject it when it is wrong, speculative, about unchanged code,
a style preference, or already handled in the code shown. Keep it otherwise. Answer with {CRITIC_TOOL}."""


async def critique(
    findings: list[Finding], files: list[FileDiff], model: ReviewModel
) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    """(kept, dropped with "critic: <reason>"). Findings the critic gives no verdict on are kept."""
    if not findings:
        return [], []
    checked = findings[:MAX_CRITIC_FINDINGS]
    try:
        response = await model.complete(
            [Message.system(INSTRUCTIONS), Message.user(_prompt(checked, files))],
            (CRITIC_SPEC,),
            ToolChoice(mode="tool", name=CRITIC_TOOL),
            purpose="review-critic",
        )
    except LLMError as exc:
        log.warning("review critic failed; keeping every finding", extra={"error": exc.message})
        return findings, []
    rejected: dict[int, str] = {}
    for call in response.tool_calls:
        if call.name != CRITIC_TOOL:
            continue
        try:
            verdicts = Verdicts.model_validate(call.arguments).verdicts
        except ValidationError:
            log.warning("review critic sent unreadable verdicts; keeping every finding")
            return findings, []
        rejected = {v.index: v.reason or "not a real problem" for v in verdicts if not v.keep}
    kept = [f for i, f in enumerate(checked, 1) if i not in rejected] + findings[MAX_CRITIC_FINDINGS:]
    dropped = [(f, f"critic: {rejected[i]}") for i, f in enumerate(checked, 1) if i in rejected]
    return kept, dropped


def _prompt(findings: list[Finding], files: list[FileDiff]) -> str:
    by_path = {diff.path: diff for diff in files}
    shown: list[str] = []
    code: list[str] = []
    for diff_path in dict.fromkeys(f.path for f in findings):
        diff = by_path.get(diff_path)
        if diff is None:
            continue
        about = [f for f in findings if f.path == diff_path]
        lines = {f.line for f in about} | {f.end_line for f in about}
        hunks = [h for h in diff.hunks if any(h.new_start <= n < h.new_start + max(h.new_count, 1) for n in lines)]
        code.append(render_file(diff, hunks))
    for number, finding in enumerate(findings, 1):
        shown.append(
            f"{number}. {finding.path}:{finding.line}-{finding.end_line} [{finding.severity}, {finding.category}] "
            f"{finding.title}\n   {finding.explanation}"
        )
    return "The code:\n" + "".join(code) + "\nThe findings:\n" + "\n".join(shown)
