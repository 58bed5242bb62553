"""Linear over its GraphQL API: an issue by identifier, full-text search with cursors, create, comment.

One endpoint, `POST <base>/graphql`. Linear reports failures the GraphQL way, `errors[]` with
`extensions.type` / `extensions.code`, on HTTP 200 as often as on 400, so the status says little: the errors
are read here and raised as the typed error they mean. Its rate limits are its own: request and complexity
budgets in `X-RateLimit-{Requests,Complexity}-{Remaining,Reset}` (resets in epoch milliseconds) and a
`RATELIMITED` error; each becomes the connection's shared pause.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from app.errors import (
    IntegrationAuthFailed,
    IntegrationError,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.connection import ConnectionInfo
from app.integrations.http import retry_after_seconds
from app.integrations.runtime import IntegrationRuntime, static_headers
from app.integrations.types import Identity, IssueLink, TrackerComment, TrackerIssue, TrackerSearchPage

SERVICE = "linear"
DESCRIPTION_CHARS = 20_000
COMMENT_CHARS = 4_000
MESSAGE_CHARS = 200
MAX_COMMENTS = 50
MAX_SEARCH = 100
PAGE_MAX = 50  # Linear's own cap on `first` is higher; smaller pages keep each query's complexity low
TITLE_MAX = 255
BODY_MAX = 50_000
SEARCH_TERM_MAX = 500
DEFAULT_RATE_PAUSE_S = 5.0
EPOCH = datetime.fromtimestamp(0, UTC)
IDENTIFIER = re.compile(r"^[A-Z][A-Z0-9_]{0,15}-[0-9]{1,9}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TEAM_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")

# `relations` are this issue's own; `inverseRelations` are other issues' relations pointing at it.
RELATION_NAMES = {"blocks": "blocks", "duplicate": "duplicates", "related": "relates to", "similar": "similar to"}
INVERSE_RELATION_NAMES = {
    "blocks": "is blocked by",
    "duplicate": "is duplicated by",
    "related": "relates to",
    "similar": "similar to",
}

ISSUE_FIELDS = """
    id identifier title description priority priorityLabel url createdAt updatedAt
    state { name }
    assignee { name displayName }
    creator { name displayName }
    labels(first: 50) { nodes { name } }
"""

VIEWER = "query Viewer { viewer { id name displayName email } organization { name urlKey } }"
ISSUE = f"""query Issue($id: String!, $comments: Int!) {{
  issue(id: $id) {{
    {ISSUE_FIELDS}
    comments(first: $comments) {{ nodes {{ id body createdAt url user {{ name displayName }} }} }}
    relations(first: 50) {{ nodes {{ type relatedIssue {{ identifier title url }} }} }}
    inverseRelations(first: 50) {{ nodes {{ type issue {{ identifier title url }} }} }}
  }}
}}"""
ISSUE_REF = "query IssueRef($id: String!) { issue(id: $id) { id identifier } }"
SEARCH_ISSUES = f"""query SearchIssues($term: String!, $first: Int!, $after: String) {{
  searchIssues(term: $term, first: $first, after: $after) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {ISSUE_FIELDS} }}
  }}
}}"""
TEAM_BY_KEY = "query TeamByKey($key: String!) { teams(filter: {key: {eq: $key}}, first: 1) { nodes { id key } } }"
LABELS_BY_NAME = """query LabelsByName($names: [String!]!) {
  issueLabels(filter: {name: {in: $names}}, first: 100) { nodes { id name team { id } } }
}"""
ISSUE_CREATE = f"""mutation IssueCreate($input: IssueCreateInput!) {{
  issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }}
}}"""
COMMENT_CREATE = """mutation CommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id body createdAt url user { name displayName } } }
}"""


class LinearClient:
    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        self.connection = connection
        token = connection.credential("token")
        # Personal API keys go bare in Authorization; OAuth access tokens as Bearer.
        value = f"Bearer {token}" if connection.options.get("oauth") else token
        self._http = runtime.http(connection, auth=static_headers({"Authorization": value}), rate_policy=_rate_policy)
        self.page_size = PAGE_MAX

    async def aclose(self) -> None:
        await self._http.aclose()

    async def identity(self) -> Identity:
        data = await self._graphql(VIEWER, {}, what="the viewer")
        viewer = data.get("viewer") or {}
        organization = data.get("organization") or {}
        kind = "OAuth token" if self.connection.options.get("oauth") else "API key"
        return Identity(
            login=viewer.get("email") or viewer.get("name") or str(viewer.get("id", "")),
            name=viewer.get("displayName") or viewer.get("name"),
            scopes=[],
            detail=(
                f"Linear workspace {organization.get('name') or '?'} ({organization.get('urlKey') or '?'}); "
                f"Linear does not report the scopes of an {kind}: it acts with its user's permissions"
            ),
        )

    async def get_issue(self, identifier: str, *, max_comments: int = 20) -> TrackerIssue:
        """An issue by identifier (`ENG-123`) or id, with its comments (oldest first, at most `max_comments`)
        and its relations."""
        key = _issue_key(identifier)
        comments = max(0, min(max_comments, MAX_COMMENTS))
        data = await self._graphql(ISSUE, {"id": key, "comments": comments}, what=f"issue {key}")
        node = data.get("issue")
        if not node:
            raise IntegrationNotFound(f"linear has no issue {key} (or the key cannot see it)", service=SERVICE)
        return _issue(node, detailed=True)

    async def search(self, text: str, *, limit: int = 20, cursor: str | None = None) -> TrackerSearchPage:
        """Issues matching `text` (Linear's full-text search), at most `limit`; `next_cursor` continues."""
        term = text.strip()
        if not term or len(term) > SEARCH_TERM_MAX:
            raise IntegrationRejected(
                f"a Linear search needs 1 to {SEARCH_TERM_MAX} characters of text", service=SERVICE
            )
        wanted = max(1, min(limit, MAX_SEARCH))
        issues: list[TrackerIssue] = []
        total: int | None = None
        after = cursor
        more = True
        while more and len(issues) < wanted:
            variables = {"term": term, "first": min(self.page_size, wanted - len(issues)), "after": after}
            data = await self._graphql(SEARCH_ISSUES, variables, what="the search")
            page = data.get("searchIssues") or {}
            nodes = page.get("nodes") or []
            issues.extend(_issue(node, detailed=False) for node in nodes)
            total = _int(page.get("totalCount"), total)
            info = page.get("pageInfo") or {}
            more = bool(info.get("hasNextPage")) and bool(info.get("endCursor")) and bool(nodes)
            after = info.get("endCursor") if more else None
        return TrackerSearchPage(issues=issues[:wanted], total=total, next_cursor=after if more else None)

    async def create_issue(
        self, team_key: str, title: str, description: str = "", labels: list[str] | tuple[str, ...] = ()
    ) -> TrackerIssue:
        """A new issue in the team `team_key`. Unknown labels are refused before anything is created."""
        key = team_key.strip().upper()
        if not TEAM_KEY.match(key):
            raise IntegrationRejected(f"{team_key!r} is not a Linear team key (e.g. ENG)", service=SERVICE)
        title = title.strip()
        if not title or len(title) > TITLE_MAX:
            raise IntegrationRejected(f"a Linear issue title needs 1 to {TITLE_MAX} characters", service=SERVICE)
        if len(description) > BODY_MAX:
            raise IntegrationRejected(f"a Linear description is limited to {BODY_MAX} characters", service=SERVICE)
        teams = (await self._graphql(TEAM_BY_KEY, {"key": key}, what=f"team {key}")).get("teams") or {}
        team = next(iter(teams.get("nodes") or []), None)
        if not team:
            raise IntegrationNotFound(f"linear has no team {key} (or the key cannot see it)", service=SERVICE)
        payload: dict[str, Any] = {"teamId": team["id"], "title": title}
        if description:
            payload["description"] = description
        names = list(dict.fromkeys(name.strip() for name in labels if name.strip()))
        if names:
            payload["labelIds"] = await self._label_ids(names, team["id"], key)
        data = await self._graphql(ISSUE_CREATE, {"input": payload}, what=f"a new issue in {key}", mutation=True)
        created = data.get("issueCreate") or {}
        if not created.get("success") or not created.get("issue"):
            raise IntegrationRejected(f"linear did not create the issue in {key}", service=SERVICE)
        return _issue(created["issue"], detailed=False)

    async def comment(self, identifier: str, body: str) -> TrackerComment:
        """Add a Markdown comment to an issue."""
        key = _issue_key(identifier)
        text = body.strip()
        if not text or len(text) > BODY_MAX:
            raise IntegrationRejected(f"a Linear comment needs 1 to {BODY_MAX} characters", service=SERVICE)
        issue = (await self._graphql(ISSUE_REF, {"id": key}, what=f"issue {key}")).get("issue")
        if not issue:
            raise IntegrationNotFound(f"linear has no issue {key} (or the key cannot see it)", service=SERVICE)
        data = await self._graphql(
            COMMENT_CREATE, {"input": {"issueId": issue["id"], "body": text}}, what=f"a comment on {key}", mutation=True
        )
        created = data.get("commentCreate") or {}
        if not created.get("success") or not created.get("comment"):
            raise IntegrationRejected(f"linear did not add the comment to {key}", service=SERVICE)
        return _comment(created["comment"])

    # --- the call --------------------------------------------------------------------------------------------

    async def _label_ids(self, names: list[str], team_id: str, team_key: str) -> list[str]:
        found = (await self._graphql(LABELS_BY_NAME, {"names": names}, what="the labels")).get("issueLabels") or {}
        ids: dict[str, str] = {}
        for label in found.get("nodes") or []:
            owner = (label.get("team") or {}).get("id")
            # A workspace label (no team) or one of this team's; another team's label of the same name is not.
            if label.get("name") in names and owner in (None, team_id):
                ids.setdefault(label["name"], label["id"])
        missing = [name for name in names if name not in ids]
        if missing:
            raise IntegrationRejected(
                f"linear has no label {', '.join(missing)[:MESSAGE_CHARS]} for team {team_key}", service=SERVICE
            )
        return [ids[name] for name in names]

    async def _graphql(
        self, query: str, variables: dict[str, Any], *, what: str, mutation: bool = False
    ) -> dict[str, Any]:
        """The `data` of a successful operation; the typed error its `errors[]` mean otherwise."""
        attempt = 0
        limiter = self._http.limiter
        while True:
            response = await self._http.request(
                "POST",
                "/graphql",
                json_body={"query": query, "variables": variables},
                ok=(400,),
                # A query may be sent again after a 5xx; a mutation that reached Linear may have been applied.
                idempotent=not mutation,
            )
            spent = linear_pause(response)
            body = _body(response)
            errors = body.get("errors") if isinstance(body.get("errors"), list) else []
            if errors and _error_kind(errors[0]) == "ratelimited":
                # A refused request did nothing, a mutation included: waiting and sending it again is safe.
                pause = spent or retry_after_seconds(response) or DEFAULT_RATE_PAUSE_S
                await limiter.pause(pause)
                if pause <= limiter.max_wait_s and attempt < self._http.policy.max_retries:
                    attempt += 1
                    continue
                raise IntegrationRateLimited(
                    f"linear rate limit reached; retry in {max(1, round(pause))} s", retry_after=pause, service=SERVICE
                )
            if spent:
                await limiter.pause(spent)  # this call spent the last of a budget: the next ones wait for it
            if errors:
                raise _error_for(errors[0], what)
            if response.status_code == 400:
                raise IntegrationRejected(f"linear rejected the request for {what} (HTTP 400)", service=SERVICE)
            data = body.get("data")
            if not isinstance(data, dict):
                raise IntegrationUnavailable(f"linear answered without data for {what}", service=SERVICE)
            return data


def linear_pause(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds until a spent Linear budget (requests or complexity) refills; None while both have room."""
    now = time.time() if now is None else now
    waits: list[float] = []
    for budget in ("requests", "complexity"):
        remaining = response.headers.get(f"x-ratelimit-{budget}-remaining")
        reset = response.headers.get(f"x-ratelimit-{budget}-reset")
        try:
            if remaining is not None and reset is not None and float(remaining) <= 0:
                waits.append(max(0.0, float(reset) / 1000 - now))
        except ValueError:
            continue
    return max(waits) if waits else None


def _rate_policy(response: httpx.Response) -> float | None:
    """An HTTP 429 (Linear's usual signal is a RATELIMITED error, read in `_graphql`): pause to the reset."""
    if response.status_code != 429:
        return None
    return linear_pause(response) or retry_after_seconds(response) or DEFAULT_RATE_PAUSE_S


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise IntegrationUnavailable("linear answered with something that is not JSON", service=SERVICE) from None
    if not isinstance(body, dict):
        raise IntegrationUnavailable("linear answered with something that is not GraphQL", service=SERVICE)
    return body


def _error_kind(error: Any) -> str:
    if not isinstance(error, dict):
        return "rejected"
    extensions = error.get("extensions") if isinstance(error.get("extensions"), dict) else {}
    code = str(extensions.get("code") or "").upper()
    kind = str(extensions.get("type") or "").lower()
    message = str(error.get("message") or "").lower()
    if code == "RATELIMITED" or kind == "ratelimited":
        return "ratelimited"
    if code in ("AUTHENTICATION_ERROR", "UNAUTHENTICATED") or kind == "authentication error":
        return "auth"
    if code == "FORBIDDEN" or kind in ("forbidden", "feature not accessible"):
        return "forbidden"
    if message.startswith("entity not found") or code in ("NOT_FOUND", "ENTITY_NOT_FOUND"):
        return "not_found"
    if code == "INTERNAL_SERVER_ERROR" or kind in ("internal error", "lock timeout", "network error"):
        return "unavailable"
    return "rejected"


def _error_for(error: Any, what: str) -> IntegrationError:
    kind = _error_kind(error)
    detail = _message(error)
    if kind == "auth":
        return IntegrationAuthFailed(f"linear refused the credentials ({detail})", service=SERVICE)
    if kind == "forbidden":
        return IntegrationAuthFailed(f"linear denied access to {what} ({detail})", service=SERVICE)
    if kind == "not_found":
        return IntegrationNotFound(f"linear has no {what} (or the key cannot see it)", service=SERVICE)
    if kind == "unavailable":
        return IntegrationUnavailable(f"linear failed on {what} ({detail})", service=SERVICE)
    return IntegrationRejected(f"linear rejected the request for {what} ({detail})", service=SERVICE)


def _message(error: Any) -> str:
    if not isinstance(error, dict):
        return "unknown error"
    extensions = error.get("extensions") if isinstance(error.get("extensions"), dict) else {}
    text = extensions.get("userPresentableMessage") or error.get("message") or extensions.get("code") or "unknown"
    return " ".join(str(text).split())[:MESSAGE_CHARS]


def _issue_key(identifier: str) -> str:
    key = identifier.strip()
    if UUID.match(key.lower()):
        return key.lower()
    key = key.upper()
    if not IDENTIFIER.match(key):
        raise IntegrationRejected(
            f"{identifier[:40]!r} is not a Linear issue identifier (e.g. ENG-123)", service=SERVICE
        )
    return key


def _issue(node: dict[str, Any], *, detailed: bool) -> TrackerIssue:
    description = node.get("description") or ""
    comments: list[TrackerComment] = []
    links: list[IssueLink] = []
    if detailed:
        comments = sorted(
            (_comment(c) for c in (node.get("comments") or {}).get("nodes") or []),
            key=lambda c: c.created_at or EPOCH,
        )
        links = _links(node)
    return TrackerIssue(
        key=node.get("identifier") or node.get("id") or "",
        title=node.get("title") or "",
        status=(node.get("state") or {}).get("name"),
        # Priority 0 is Linear's "No priority": none rather than a label that reads like one.
        priority=node.get("priorityLabel") if node.get("priority") else None,
        assignee=_person(node.get("assignee")),
        reporter=_person(node.get("creator")),
        labels=[label["name"] for label in (node.get("labels") or {}).get("nodes") or [] if label.get("name")],
        description=_cut(description, DESCRIPTION_CHARS),
        acceptance_criteria=acceptance_criteria(description),
        comments=comments,
        links=links,
        created_at=node.get("createdAt"),
        updated_at=node.get("updatedAt"),
        url=node.get("url") or "",
    )


def _comment(node: dict[str, Any]) -> TrackerComment:
    return TrackerComment(
        id=node.get("id"),
        url=node.get("url"),
        author=_person(node.get("user")),
        created_at=node.get("createdAt"),
        body=_cut(node.get("body") or "", COMMENT_CHARS),
    )


def _links(node: dict[str, Any]) -> list[IssueLink]:
    sides = (("relations", "relatedIssue", RELATION_NAMES), ("inverseRelations", "issue", INVERSE_RELATION_NAMES))
    links: list[IssueLink] = []
    for field, end, names in sides:
        for relation in (node.get(field) or {}).get("nodes") or []:
            other = relation.get(end) or {}
            if other.get("identifier"):
                kind = relation.get("type") or "related"
                links.append(
                    IssueLink(
                        relation=names.get(kind, kind),
                        key=other["identifier"],
                        title=other.get("title"),
                        url=other.get("url"),
                    )
                )
    return links


def _person(user: Any) -> str | None:
    if not isinstance(user, dict):
        return None
    return user.get("displayName") or user.get("name")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


CRITERIA_HEADING = re.compile(r"^\s*(?:#{1,6}\s*|\*\*)?acceptance criteria\b", re.IGNORECASE)
HEADING = re.compile(r"^\s*(?:#{1,6}\s|\*\*[^*]+\*\*\s*:?\s*$)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.+?)\s*$")
MAX_CRITERIA = 30


def acceptance_criteria(markdown: str) -> list[str]:
    """The list items under an "Acceptance criteria" heading of a Markdown description (Linear has no field)."""
    items: list[str] = []
    inside = False
    for line in markdown.splitlines():
        if CRITERIA_HEADING.match(line):
            inside = True
            continue
        if not inside:
            continue
        if HEADING.match(line):
            break
        item = LIST_ITEM.match(line)
        if item:
            items.append(_cut(item.group(1), 500))
            if len(items) >= MAX_CRITERIA:
                break
        elif line.strip() and items:
            break  # the list ended in prose
    return items
