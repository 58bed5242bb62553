"""Slack mrkdwn from untrusted text: every value that comes from a pull request (its title, author, paths) goes
through `escape`, so a title such as `<!channel>` or `<https://evil|click>` is shown, never interpreted."""

from __future__ import annotations

from typing import Any

SECTION_CHARS = 2900  # Slack refuses a section text over 3000 characters


def escape(text: str | None) -> str:
    """The three characters Slack reads as control sequences, as its documentation asks them to be sent."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """`<url|label>` for an http(s) address; the escaped label alone for anything else."""
    shown = escape(label).replace("|", "¦")  # a bar would end the URL part early
    if not url or not url.startswith(("https://", "http://")) or any(c in url for c in "<>| \n"):
        return shown
    return f"<{escape(url)}|{shown}>"


def section(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    if len(text) > SECTION_CHARS:
        text = text[: SECTION_CHARS - 1] + "…"
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_CHARS]}]}
