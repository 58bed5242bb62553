"""A Jira issue's JSON (REST v2 or v3) as a `TrackerIssue`: rich text as Markdown, comments and text bounded,
links named by their direction, acceptance criteria found where teams keep them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.integrations.atlassian_text import adf_to_markdown, wiki_to_markdown
from app.integrations.types import IssueLink, TrackerComment, TrackerIssue

ISSUE_FIELDS = (
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "description",
    "comment",
    "issuelinks",
    "created",
    "updated",
)
SEARCH_FIELDS = tuple(f for f in ISSUE_FIELDS if f not in ("comment", "issuelinks"))
MAX_CRITERIA = 50
CRITERION_CHARS = 500

AC_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*(?:acceptance\s+criteria|definition\s+of\s+done)\s*(?:\*\*|__)?\s*:?"
    r"\s*(?:\*\*|__)?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
AC_SHORT = re.compile(
    r"^\s*(?:#{1,6}\s*AC\b\s*:?|(?:\*\*)?AC(?:\*\*)?\s*:)(?:\*\*)?\s*(?P<rest>.*)$"  # "## AC", "AC: ...", "**AC:**"
)
ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(?P<text>.+)$")
CHECKLIST_ITEM = re.compile(r"^\s*[-*+]\s+\[[ xX]\]\s+(?P<text>.+)$")
HEADING = re.compile(r"^\s*(?:#{1,6}\s+\S|\*\*[^*]+\*\*\s*:?\s*$)")


def rich_text(value: Any) -> str:
    """A rich-text field as Markdown: ADF (Cloud, REST v3) or wiki markup (Data Center, REST v2)."""
    if isinstance(value, dict):
        return adf_to_markdown(value)
    if isinstance(value, str):
        return wiki_to_markdown(value)
    if isinstance(value, list):
        return "\n".join(f"- {rich_text(v)}" for v in value if v)
    return "" if value is None else str(value)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)  # Jira's "2024-05-01T10:00:00.000+0000" included
    except ValueError:
        return None


def person(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return value.get("displayName") or value.get("name") or value.get("accountId")


def bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def issue_url(base_url: str, key: str) -> str:
    return f"{base_url}/browse/{key}"


def issue_from_json(
    raw: dict[str, Any],
    *,
    base_url: str,
    criteria_field: str | None = None,
    max_comments: int = 20,
    max_chars: int = 20_000,
    text: Callable[[Any], str] = rich_text,
) -> TrackerIssue:
    fields = raw.get("fields") or {}
    key = str(raw.get("key") or "")
    description = text(fields.get("description"))
    criteria = criteria_from_field(text(fields.get(criteria_field))) if criteria_field else []
    if not criteria:
        criteria = criteria_from_text(description)
    comments_block = fields.get("comment") or {}
    comments = [c for c in (comments_block.get("comments") or []) if isinstance(c, dict)]
    comment_chars = max(200, max_chars // 4)
    return TrackerIssue(
        key=key,
        title=str(fields.get("summary") or ""),
        status=_name(fields.get("status")),
        issue_type=_name(fields.get("issuetype")),
        priority=_name(fields.get("priority")),
        assignee=person(fields.get("assignee")),
        reporter=person(fields.get("reporter")),
        labels=[str(label) for label in fields.get("labels") or []],
        description=bounded(description, max_chars),
        acceptance_criteria=criteria,
        # The latest comments: Jira lists them oldest first.
        comments=[comment_from_json(c, text=text, max_chars=comment_chars) for c in comments[-max_comments:]]
        if max_comments > 0
        else [],
        links=[link for link in (_link(item, base_url) for item in fields.get("issuelinks") or []) if link],
        created_at=parse_time(fields.get("created")),
        updated_at=parse_time(fields.get("updated")),
        url=issue_url(base_url, key),
    )


def comment_from_json(
    raw: dict[str, Any], *, text: Callable[[Any], str] = rich_text, max_chars: int = 5000, url: str | None = None
) -> TrackerComment:
    return TrackerComment(
        id=str(raw["id"]) if raw.get("id") is not None else None,
        author=person(raw.get("author")),
        created_at=parse_time(raw.get("created")),
        body=bounded(text(raw.get("body")), max_chars),
        url=url,
    )


def _name(value: Any) -> str | None:
    return value.get("name") if isinstance(value, dict) else None


def _link(item: Any, base_url: str) -> IssueLink | None:
    if not isinstance(item, dict):
        return None
    kind = item.get("type") or {}
    for side, relation in (("outwardIssue", kind.get("outward")), ("inwardIssue", kind.get("inward"))):
        other = item.get(side)
        if isinstance(other, dict) and other.get("key"):
            return IssueLink(
                relation=str(relation or kind.get("name") or "relates to"),
                key=str(other["key"]),
                title=(other.get("fields") or {}).get("summary"),
                url=issue_url(base_url, str(other["key"])),
            )
    return None


def criteria_from_text(text: str) -> list[str]:
    """Acceptance criteria in Markdown text: the items under an "Acceptance criteria" (or "AC:") heading, else
    the checklist items anywhere in the text; each item one criterion."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        match = AC_HEADING.match(line) or AC_SHORT.match(line)
        if match:
            found = _section_items(match.group("rest"), lines[index + 1 :])
            if found:
                return found
    items = [m.group("text").strip() for m in (CHECKLIST_ITEM.match(line) for line in lines) if m]
    return [bounded(item, CRITERION_CHARS) for item in items[:MAX_CRITERIA]]


def criteria_from_field(text: str) -> list[str]:
    """A field that holds only acceptance criteria: its section or checklist if it has one, else every item
    or line of it."""
    found = criteria_from_text(text)
    if found:
        return found
    items = []
    for line in text.split("\n"):
        if not line.strip() or HEADING.match(line):
            continue
        item = ITEM.match(line)
        items.append(item.group("text").strip() if item else line.strip())
    return [bounded(item, CRITERION_CHARS) for item in items[:MAX_CRITERIA]]


def _section_items(rest: str, following: list[str]) -> list[str]:
    items: list[str] = []
    rest = rest.strip().strip("*_").strip()
    if rest:
        items.append(rest)
    for line in following:
        if HEADING.match(line) or AC_HEADING.match(line):
            break
        if not line.strip() or line.strip() in ("---", "***"):
            continue
        item = ITEM.match(line)
        if item:
            items.append(item.group("text").strip())
        elif line.startswith((" ", "\t")) and items:
            items[-1] += " " + line.strip()  # a wrapped item
        elif line.lstrip().startswith(">"):
            continue
        else:
            items.append(line.strip())
        if len(items) >= MAX_CRITERIA:
            break
    return [bounded(item, CRITERION_CHARS) for item in items if item]
