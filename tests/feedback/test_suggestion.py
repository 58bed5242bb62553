"""The suggested edit: a diff computed from the page's own text (so it applies to the page as read), an outline
when no page covers the topic, and the evidence-only fallback when the model's answer cannot be used."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from app.errors import LLMError
from app.feedback.docs_lookup import PageMatch
from app.feedback.suggestion import edit_diff, suggest

PAGE = PageMatch(
    title="install.md",
    url="https://docs.example.com/install",
    text="# Install\n\nDownload the installer.\n\n## Windows\n\nRun the installer.\n\n## Linux\n\nUse the package.",
    score=0.8,
)


def test_the_diff_replaces_the_named_section_and_applies_to_the_page(tmp_path: Path):
    diff = edit_diff(PAGE, "Windows", "Run the installer, then add its folder to PATH.")
    assert "-Run the installer." in diff and "+Run the installer, then add its folder to PATH." in diff
    assert "Linux" not in [
        line[1:] for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]
    (tmp_path / "page.md").write_text(PAGE.text + "\n")
    (tmp_path / "edit.diff").write_text(
        diff.replace("a/install.md", "page.md").replace("b/install.md", "page.md") + "\n"
    )
    subprocess.run(["patch", "-s", "page.md", "edit.diff"], cwd=tmp_path, check=True)
    patched = (tmp_path / "page.md").read_text()
    assert "## Windows\n\nRun the installer, then add its folder to PATH.\n\n## Linux" in patched


def test_a_section_the_page_lacks_is_appended():
    diff = edit_diff(PAGE, "## Upgrading", "Run the installer again.")
    assert diff.splitlines()[-3:] == ["+## Upgrading", "+", "+Run the installer again."]


async def test_without_a_page_the_model_writes_an_outline_and_without_a_model_the_evidence_stays():
    async def outline(prompt: str) -> str:
        assert "No page of our documentation covers this" in prompt and "- webhooks fail" in prompt
        return json.dumps(
            {
                "title": "Document webhook secrets",
                "summary": "People cannot find it.",
                "outline": "# Webhooks\n## Secrets",
            }
        )

    made, problem = await suggest(
        typical="webhook secret", quotes=["webhooks fail"], people=2, pages=[], ask=outline, max_chars=1000
    )
    assert (made.title, made.suggestion, problem) == ("Document webhook secrets", "# Webhooks\n## Secrets", None)

    plain, problem = await suggest(
        typical="webhook secret", quotes=["a", "b", "c"], people=2, pages=[PAGE], ask=None, max_chars=1000
    )
    assert plain.title == "webhook secret" and plain.suggestion is None and problem is None
    assert "3 messages from 2 people" in plain.summary


async def test_an_unusable_answer_falls_back_and_says_why_and_a_long_edit_is_cut():
    async def prose(prompt: str) -> str:
        return "Sure! Here is my idea."

    async def failing(prompt: str) -> str:
        raise LLMError("provider down")

    async def long(prompt: str) -> str:
        return json.dumps({"title": "Title", "summary": "S" * 10, "section": "Windows", "new_text": "x " * 2000})

    for ask, reason in ((prose, "not the JSON asked for"), (failing, "provider down")):
        made, problem = await suggest(typical="topic", quotes=["q"], people=1, pages=[PAGE], ask=ask, max_chars=500)
        assert made.suggestion is None and made.title == "topic" and reason in (problem or "")
    made, _ = await suggest(typical="topic", quotes=["q"], people=1, pages=[PAGE], ask=long, max_chars=500)
    assert made.suggestion is not None and len(made.suggestion) <= 500 and made.suggestion.endswith("was longer)")
