"""`/adjutant ask`: one bounded model call that answers a question about a pull request from its title,
description and diff, and says so when the diff does not show the answer."""

from __future__ import annotations

from app.integrations.types import PullRequest
from app.llm.types import Message, ToolChoice
from app.review.conversation import ReviewModel
from app.review.diff import FileDiff
from app.review.packing import pack_with_omissions
from app.review.rules import RepositoryRules

INSTRUCTIONS = (
    "You answer one question about a pull request, from its title, description and diff. Be brief and "
    "specific: name files and new-side line numbers. When the diff does not show the answer, say so instead "
    "of guessing. Answer in Markdown, without a heading."
)
ANSWER_MAX = 8000
DIFF_BUDGET_TOKENS = 30_000


async def answer(model: ReviewModel, pr: PullRequest, files: list[FileDiff], question: str) -> str:
    parts, omitted = pack_with_omissions(files, RepositoryRules(), budget_tokens=DIFF_BUDGET_TOKENS, max_parts=1)
    diff = parts[0].text if parts else "(the diff is empty)"
    left_out = f"\nFiles not shown: {', '.join(path for path, _ in omitted[:20])}" if omitted else ""
    prompt = f"Pull request: {pr.title}\n\n{pr.body[:4000]}\n\nDiff:\n{diff}{left_out}\n\nQuestion: {question}"
    response = await model.complete(
        [Message.system(INSTRUCTIONS), Message.user(prompt)], (), ToolChoice(mode="none"), purpose="review-question"
    )
    text = response.text.strip() or "I could not find an answer to that in this pull request."
    return text[:ANSWER_MAX]
