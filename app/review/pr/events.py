"""Which webhook deliveries ask for a review, read from each platform's own payload: a pull request opened,
reopened, marked ready or given new commits. Everything else (edits of the title, labels, a draft, a closed
pull request) is answered with the reason it is not reviewed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SHA = re.compile(r"^[0-9a-f]{7,64}$")
REPO_MAX = 300
GITHUB_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
GITLAB_ACTIONS = frozenset({"open", "reopen", "update"})
BITBUCKET_EVENTS = frozenset({"pullrequest:created", "pullrequest:updated"})


@dataclass(frozen=True)
class PullRequestEvent:
    repo: str
    number: int
    head_sha: str
    action: str


def read_event(platform: str, event: str, action: str | None, body: Any) -> PullRequestEvent | str:
    """The pull request to review, or why this delivery does not ask for one."""
    if not isinstance(body, dict):
        return "the delivery has no JSON object body"
    try:
        if platform == "github":
            return _github(action, body)
        if platform == "gitlab":
            return _gitlab(action, body)
        if platform == "bitbucket":
            return _bitbucket(event, body)
    except (KeyError, TypeError, ValueError, AttributeError):
        return f"the {platform} delivery does not have the fields of a pull request event"
    return f"{platform} pull requests are not reviewed"


def _github(action: str | None, body: dict[str, Any]) -> PullRequestEvent | str:
    if action not in GITHUB_ACTIONS:
        return f"pull_request action {action!r} does not change the code"
    pull = body["pull_request"]
    if pull.get("state") != "open":
        return "the pull request is not open"
    if pull.get("draft"):
        return "the pull request is a draft; it is reviewed when marked ready"
    return _event(body["repository"]["full_name"], body.get("number") or pull["number"], pull["head"]["sha"], action)


def _gitlab(action: str | None, body: dict[str, Any]) -> PullRequestEvent | str:
    attributes = body["object_attributes"]
    if action not in GITLAB_ACTIONS:
        return f"merge request action {action!r} does not change the code"
    if action == "update" and not attributes.get("oldrev"):
        return "the update brought no new commits"  # GitLab sends oldrev only when commits were pushed
    if attributes.get("state") not in (None, "opened"):
        return "the merge request is not open"
    if attributes.get("draft") or attributes.get("work_in_progress"):
        return "the merge request is a draft; it is reviewed when marked ready"
    head = (attributes.get("last_commit") or {}).get("id")
    return _event(body["project"]["path_with_namespace"], attributes["iid"], head, action)


def _bitbucket(event: str, body: dict[str, Any]) -> PullRequestEvent | str:
    if event not in BITBUCKET_EVENTS:
        return f"{event} does not change the code"
    pull = body["pullrequest"]
    if pull.get("state") not in (None, "OPEN"):
        return "the pull request is not open"
    if pull.get("draft"):
        return "the pull request is a draft; it is reviewed when it is ready"
    head = ((pull.get("source") or {}).get("commit") or {}).get("hash")
    return _event(body["repository"]["full_name"], pull["id"], head, event.partition(":")[2])


def _event(repo: Any, number: Any, head: Any, action: str) -> PullRequestEvent | str:
    if not isinstance(repo, str) or not 3 <= len(repo) <= REPO_MAX or "/" not in repo:
        return "the delivery names no repository"
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 10**9:
        return "the delivery names no pull request number"
    if not isinstance(head, str) or not SHA.match(head):
        return "the delivery names no head commit"
    return PullRequestEvent(repo=repo, number=number, head_sha=head, action=action)
