"""A suggested replacement keeps its indentation from the reviewer's report to the posted comment: Python code
without its indent is a different program, and a committable suggestion replaces whole lines."""

from __future__ import annotations

import pytest

from app.review.findings import ReportedFinding
from tests.review.pr.conftest import Deployment
from tests.review.pr.scenarios import PATH
from tests.review.scripted import finding, report

# Replaces lines 11-12 (`    value = CACHE.get(key)`, `    log("read", key)`): a block nested one level deeper.
REPLACEMENT = '    if key not in CACHE:\n        raise KeyError(key)\n    value = CACHE[key]\n    log("read", key)'
GUARDED = finding(
    PATH,
    11,
    "Missing key returns None",
    end_line=12,
    severity="high",
    confidence=0.9,
    evidence="value = CACHE.get(key)",
    suggestion="\n" + REPLACEMENT + "\n\n",  # blank lines around the code are the model's, not the code's
)
BLOCK = {
    "github": f"```suggestion\n{REPLACEMENT}\n```",
    "gitlab": f"```suggestion:-0+1\n{REPLACEMENT}\n```",
    "bitbucket": f"Suggested change:\n\n```\n{REPLACEMENT}\n```",  # no committable suggestions: a code block
}


def test_a_reported_suggestion_keeps_its_indentation():
    entry = ReportedFinding.model_validate(GUARDED | {"title": "  Missing key returns None  "})
    assert entry.suggestion == REPLACEMENT and entry.title == "Missing key returns None"
    assert ReportedFinding.model_validate(GUARDED | {"suggestion": " \n\t\n"}).suggestion is None


@pytest.mark.parametrize("deployment", ["github", "gitlab", "bitbucket"], indirect=True)
async def test_a_python_suggestion_is_posted_with_its_indentation(deployment: Deployment):
    deployment.script.play(report(GUARDED))
    assert (await deployment.deliver(pushed=False)).status_code == 202
    (job,) = await deployment.reviewed(1)
    assert job.result["comments_posted"] == 1, job.result
    (comment,) = deployment.scenario.line_comments()
    assert BLOCK[deployment.scenario.platform] in comment.body, comment.body
