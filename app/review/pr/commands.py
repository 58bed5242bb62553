"""Commands in pull-request comments: `/adjutant review` (review the whole pull request again now),
`/adjutant ask <question>` (answered in a comment from the pull request's diff) and `/adjutant ignore <id>`
(close the bot's comment whose short id, shown under it, is given). Read from each platform's comment event;
obeyed only from whom the connection's `commands_from` allows, and never from the bot itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from app.review.pr.events import REPO_MAX

Verb = Literal["review", "ask", "ignore"]
COMMAND = re.compile(r"^[ \t]*/adjutant[ \t]+(review|ask|ignore)\b(.*)", re.IGNORECASE | re.MULTILINE | re.DOTALL)
ARGUMENT_MAX = 2000
TEXT_MAX = 4000
FINGERPRINT_PREFIX = re.compile(r"^[0-9a-f]{6,64}$")


@dataclass(frozen=True)
class Command:
    verb: Verb
    argument: str


@dataclass(frozen=True)
class CommentEvent:
    repo: str
    number: int
    comment_id: str
    author: str
    text: str


def parse_command(text: str) -> Command | None:
    """The first `/adjutant <verb>` line of a comment, with everything after the verb as its argument."""
    match = COMMAND.search(text or "")
    if match is None:
        return None
    return Command(match[1].lower(), match[2].strip()[:ARGUMENT_MAX])  # type: ignore[arg-type]


def read_comment_event(platform: str, event: str, action: str | None, body: Any) -> CommentEvent | str:
    """The new comment on a pull request a delivery carries, or why it carries none."""
    if not isinstance(body, dict):
        return "the delivery has no JSON object body"
    try:
        if platform == "github" and event == "issue_comment":
            return _github(action, body)
        if platform == "gitlab" and event == "note":
            return _gitlab(body)
        if platform == "bitbucket" and event == "pullrequest:comment_created":
            return _bitbucket(body)
    except (KeyError, TypeError, ValueError, AttributeError):
        return f"the {platform} delivery does not have the fields of a comment event"
    return f"{platform} {event} is not a new pull-request comment"


def _github(action: str | None, body: dict[str, Any]) -> CommentEvent | str:
    if action != "created":
        return f"issue_comment action {action!r} is not a new comment"
    issue = body["issue"]
    if not issue.get("pull_request"):
        return "the comment is on an issue, not a pull request"
    comment = body["comment"]
    return _event(
        body["repository"]["full_name"], issue["number"], comment["id"], comment["user"]["login"], comment.get("body")
    )


def _gitlab(body: dict[str, Any]) -> CommentEvent | str:
    attributes = body["object_attributes"]
    if attributes.get("noteable_type") != "MergeRequest":
        return "the note is not on a merge request"
    if attributes.get("system"):
        return "a system note"
    return _event(
        body["project"]["path_with_namespace"],
        body["merge_request"]["iid"],
        attributes["id"],
        body["user"]["username"],
        attributes.get("note"),
    )


def _bitbucket(body: dict[str, Any]) -> CommentEvent | str:
    comment = body["comment"]
    user = comment.get("user") or body.get("actor") or {}
    author = user.get("nickname") or user.get("display_name") or ""
    return _event(
        body["repository"]["full_name"],
        body["pullrequest"]["id"],
        comment["id"],
        author,
        (comment.get("content") or {}).get("raw"),
    )


def _event(repo: Any, number: Any, comment_id: Any, author: Any, text: Any) -> CommentEvent | str:
    if not isinstance(repo, str) or not 3 <= len(repo) <= REPO_MAX or "/" not in repo:
        return "the delivery names no repository"
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 10**9:
        return "the delivery names no pull request number"
    if isinstance(comment_id, bool) or not isinstance(comment_id, int | str) or not str(comment_id).isdigit():
        return "the delivery names no comment"
    if not isinstance(author, str) or not 0 < len(author) <= 200 or not isinstance(text, str):
        return "the delivery names no author or text"
    return CommentEvent(repo, number, str(comment_id), author, text[:TEXT_MAX])
