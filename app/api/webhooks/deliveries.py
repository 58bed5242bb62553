"""What a signed delivery says: its parsed body, event type and action, and the id a replay would repeat.

Each platform names its events its own way (GitHub's X-GitHub-Event, GitLab's "Merge Request Hook", Bitbucket's
X-Event-Key, Jira's and Linear's body fields, Slack's nested event types); here they become one `event` string
per platform, checked against the events that platform documents. Anything else is an unknown event.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from app.db.wire_types import decode_json
from app.errors import InvalidRequest, WebhookMalformed, WebhookSignatureInvalid

LINEAR_WINDOW_S = 60
ID_TEXT = re.compile(r"^[A-Za-z0-9._:{}-]{1,200}$")
EVENT_TEXT = re.compile(r"^[A-Za-z0-9 ._:/-]{1,100}$")

KNOWN_EVENTS: dict[str, frozenset[str]] = {
    "github": frozenset(
        {
            "ping",
            "push",
            "create",
            "delete",
            "release",
            "issues",
            "issue_comment",
            "pull_request",
            "pull_request_review",
            "pull_request_review_comment",
            "pull_request_review_thread",
            "check_run",
            "check_suite",
            "status",
            "workflow_run",
            "workflow_job",
            "commit_comment",
            "discussion",
            "discussion_comment",
            "installation",
            "installation_repositories",
            "repository",
            "label",
            "milestone",
        }
    ),
    "gitlab": frozenset(
        {
            "push",
            "tag_push",
            "issue",
            "confidential_issue",
            "note",
            "confidential_note",
            "merge_request",
            "wiki_page",
            "pipeline",
            "job",
            "deployment",
            "release",
            "feature_flag",
            "emoji",
            "member",
            "project",
            "subgroup",
            "resource_access_token",
        }
    ),
    "bitbucket": frozenset(
        {
            "diagnostics:ping",
            "repo:push",
            "repo:fork",
            "repo:updated",
            "repo:commit_comment_created",
            "repo:commit_status_created",
            "repo:commit_status_updated",
            "issue:created",
            "issue:updated",
            "issue:comment_created",
            "pullrequest:created",
            "pullrequest:updated",
            "pullrequest:approved",
            "pullrequest:unapproved",
            "pullrequest:changes_request_created",
            "pullrequest:changes_request_removed",
            "pullrequest:fulfilled",
            "pullrequest:rejected",
            "pullrequest:comment_created",
            "pullrequest:comment_updated",
            "pullrequest:comment_deleted",
            "pullrequest:comment_resolved",
            "pullrequest:comment_reopened",
        }
    ),
    "jira": frozenset(
        {
            "jira:issue_created",
            "jira:issue_updated",
            "jira:issue_deleted",
            "comment_created",
            "comment_updated",
            "comment_deleted",
            "issuelink_created",
            "issuelink_deleted",
            "worklog_created",
            "worklog_updated",
            "worklog_deleted",
            "attachment_created",
            "attachment_deleted",
            "sprint_created",
            "sprint_started",
            "sprint_closed",
            "sprint_updated",
            "sprint_deleted",
            "jira:version_created",
            "jira:version_released",
            "jira:version_updated",
            "jira:version_deleted",
            "project_created",
            "project_updated",
        }
    ),
    "linear": frozenset(
        {
            "Issue",
            "Comment",
            "IssueLabel",
            "Project",
            "ProjectUpdate",
            "Cycle",
            "Reaction",
            "Document",
            "Initiative",
            "InitiativeUpdate",
            "Attachment",
            "IssueSLA",
            "Customer",
            "CustomerNeed",
            "User",
        }
    ),
    "slack": frozenset(
        {
            "app_mention",
            "message",
            "reaction_added",
            "reaction_removed",
            "app_home_opened",
            "link_shared",
            "member_joined_channel",
            "channel_created",
            "team_join",
            "block_actions",
            "view_submission",
            "view_closed",
            "shortcut",
            "message_action",
            "slash_command",
        }
    ),
}
DELIVERY_HEADERS = {
    "github": "x-github-delivery",
    "gitlab": "x-gitlab-event-uuid",
    "bitbucket": "x-request-uuid",
    "jira": "x-atlassian-webhook-identifier",
    "linear": "linear-delivery",
}


@dataclass(frozen=True)
class Delivery:
    event: str
    action: str | None
    delivery_id: str  # what a replay of this delivery repeats
    body: Any
    known: bool  # an event type the platform documents
    challenge: str | None = None  # Slack's url_verification: answered, not queued


def read(platform: str, headers: Mapping[str, str], body: bytes, now: float) -> Delivery:
    """The delivery of a signed `body`; WebhookMalformed if it is not what `platform` sends."""
    parsed = _slack_body(headers, body) if platform == "slack" else _json_object(body)
    event, action = _EVENTS[platform](headers, parsed)
    if platform == "linear":
        _fresh_linear(parsed, now)
    challenge = None
    if platform == "slack" and parsed.get("type") == "url_verification":
        challenge = parsed.get("challenge")
        if not isinstance(challenge, str) or not 0 < len(challenge) <= 200:
            raise WebhookMalformed("a url_verification without a challenge")
        event = "url_verification"
    return Delivery(
        event=event,
        action=action,
        delivery_id=_delivery_id(platform, headers, body),
        body=parsed,
        known=challenge is None and event in KNOWN_EVENTS[platform],
        challenge=challenge,
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = decode_json(body, what="the webhook body")
    except InvalidRequest as exc:
        raise WebhookMalformed(exc.detail) from None
    if not isinstance(data, dict):
        raise WebhookMalformed("the webhook body must be a JSON object")
    return data


def _slack_body(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Events API deliveries are JSON; interactivity and slash commands arrive as a form."""
    if (headers.get("content-type") or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return _json_object(body)
    try:
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8"), strict_parsing=True).items()}
    except (UnicodeDecodeError, ValueError):
        raise WebhookMalformed("the form is not valid") from None
    if "payload" in form:  # interactivity: one JSON field
        return _json_object(form["payload"].encode())
    if "command" in form:
        return {"type": "slash_command", **form}
    raise WebhookMalformed("a form that is neither an interaction nor a slash command")


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not EVENT_TEXT.match(value):
        raise WebhookMalformed(f"{what} is missing or not an event name")
    return value


def _optional(value: Any) -> str | None:
    return value[:100] if isinstance(value, str) and value else None


def _github(headers: Mapping[str, str], body: dict[str, Any]) -> tuple[str, str | None]:
    return _text(headers.get("x-github-event"), "X-GitHub-Event"), _optional(body.get("action"))


def _gitlab(headers: Mapping[str, str], body: dict[str, Any]) -> tuple[str, str | None]:
    header = _text(headers.get("x-gitlab-event"), "X-Gitlab-Event")  # "Merge Request Hook"
    event = re.sub(r"\s+hook$", "", header.strip(), flags=re.IGNORECASE).lower().replace(" ", "_")
    attributes = body.get("object_attributes")
    return event, _optional(attributes.get("action") if isinstance(attributes, dict) else None)


def _bitbucket(headers: Mapping[str, str], body: dict[str, Any]) -> tuple[str, str | None]:
    event = _text(headers.get("x-event-key"), "X-Event-Key")  # "pullrequest:created"
    return event, event.partition(":")[2] or None


def _jira(headers: Mapping[str, str], body: dict[str, Any]) -> tuple[str, str | None]:
    return _text(body.get("webhookEvent"), "webhookEvent"), _optional(body.get("issue_event_type_name"))


def _linear(headers: Mapping[str, str], body: dict[str, Any]) -> tuple[str, str | None]:
    return _text(body.get("type"), "type"), _optional(body.get("action"))


def _slack(headers: Mapping[str, str], body: dict[str, Any]) -> tuple[str, str | None]:
    kind = _text(body.get("type"), "type")
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict):
            raise WebhookMalformed("an event_callback without its event")
        return _text(event.get("type"), "event.type"), _optional(event.get("subtype"))
    if kind == "slash_command":
        return kind, _optional(body.get("command"))
    return kind, None


_EVENTS = {
    "github": _github,
    "gitlab": _gitlab,
    "bitbucket": _bitbucket,
    "jira": _jira,
    "linear": _linear,
    "slack": _slack,
}


def _fresh_linear(body: dict[str, Any], now: float) -> None:
    """Linear signs webhookTimestamp (ms) into the body: a delivery older than a minute is a replay."""
    stamp = body.get("webhookTimestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise WebhookSignatureInvalid("the delivery has no webhookTimestamp")
    if abs(now - stamp / 1000) > LINEAR_WINDOW_S:
        raise WebhookSignatureInvalid("the delivery's webhookTimestamp is more than a minute off")


def _delivery_id(platform: str, headers: Mapping[str, str], body: bytes) -> str:
    """The platform's delivery id; Slack's is its timestamp and signature (a replay repeats both). Without an
    id header, the body's digest stands in: an exact replay still repeats it."""
    if platform == "slack":
        signed = f"{headers.get('x-slack-request-timestamp', '')}:{headers.get('x-slack-signature', '')}"
        return "sig-" + hashlib.sha256(signed.encode()).hexdigest()
    given = (headers.get(DELIVERY_HEADERS[platform]) or "").strip()
    if given:
        if not ID_TEXT.match(given):
            raise WebhookMalformed(f"{DELIVERY_HEADERS[platform]} is not a delivery id")
        return given
    return "body-" + hashlib.sha256(body).hexdigest()
