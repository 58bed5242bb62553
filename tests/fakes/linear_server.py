"""A loopback Linear GraphQL API: `POST /graphql`, answered in Linear's shapes.

It reads the operation name of the incoming document (`query Issue(...)`, `mutation IssueCreate(...)`) to know
what is asked, and answers `{"data": ...}` or `{"errors": [...]}` with `extensions.type` / `extensions.code`
the way Linear does: a refused key is HTTP 400 with AUTHENTICATION_ERROR, an unknown issue is HTTP 200 with
"Entity not found", a spent budget is HTTP 400 with RATELIMITED. Every answer carries the request and
complexity budget headers (resets in epoch milliseconds).
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fakes.http_fake import Answer, FakeRequest, FakeService

OPERATION = re.compile(r"^\s*(query|mutation)\s+(\w+)")

AUTH_ERROR = {
    "message": "Authentication required, not authenticated",
    "extensions": {
        "type": "authentication error",
        "code": "AUTHENTICATION_ERROR",
        "statusCode": 401,
        "userError": True,
        "userPresentableMessage": "You need to authenticate to access this operation.",
    },
}
FORBIDDEN_ERROR = {
    "message": "Forbidden",
    "extensions": {
        "type": "forbidden",
        "code": "FORBIDDEN",
        "statusCode": 403,
        "userError": True,
        "userPresentableMessage": "You don't have permission to access this resource.",
    },
}
INTERNAL_ERROR = {
    "message": "Internal server error",
    "extensions": {"type": "internal error", "code": "INTERNAL_SERVER_ERROR", "userError": False},
}


def not_found_error(entity: str, path: str) -> dict[str, Any]:
    return {
        "message": f"Entity not found: {entity}",
        "path": [path],
        "locations": [{"line": 2, "column": 3}],
        "extensions": {
            "type": "invalid input",
            "code": "INPUT_ERROR",
            "statusCode": 400,
            "userError": True,
            "userPresentableMessage": f"Could not find referenced {entity}.",
        },
    }


def ratelimited_error() -> dict[str, Any]:
    return {
        "message": "Rate limit exceeded. Only 1500 requests are allowed per 1 hour.",
        "extensions": {
            "type": "ratelimited",
            "code": "RATELIMITED",
            "statusCode": 429,
            "userError": True,
            "userPresentableMessage": "Rate limit exceeded.",
        },
    }


@dataclass
class ScriptedError:
    operation: str
    status: int
    errors: list[dict[str, Any]]
    headers: dict[str, str]
    remaining: int


class FakeLinear(FakeService):
    def __init__(self, *, api_key: str = "lin_api_test", oauth_token: str | None = None) -> None:
        self.api_key = api_key
        self.oauth_token = oauth_token
        self.viewer = {"id": str(uuid.uuid4()), "name": "Ada Lovelace", "displayName": "ada", "email": "ada@acme.dev"}
        self.organization = {"name": "Acme", "urlKey": "acme"}
        self.teams: list[dict[str, Any]] = [
            {"id": str(uuid.uuid4()), "key": "ENG", "name": "Engineering"},
            {"id": str(uuid.uuid4()), "key": "OPS", "name": "Operations"},
        ]
        eng, ops = self.teams[0]["id"], self.teams[1]["id"]
        self.labels: list[dict[str, Any]] = [
            {"id": str(uuid.uuid4()), "name": "bug", "team": None},  # a workspace label
            {"id": str(uuid.uuid4()), "name": "backend", "team": {"id": eng}},
            {"id": str(uuid.uuid4()), "name": "infra", "team": {"id": ops}},  # another team's only
        ]
        self.issues: dict[str, dict[str, Any]] = {}  # identifier -> issue node
        self._numbers = {team["key"]: itertools.count(1) for team in self.teams}
        self.requests_limit = 1500
        self.requests_remaining = 1500
        self.complexity_remaining = 250_000
        self.reset_in_s = 3600.0
        self._scripted: list[ScriptedError] = []
        super().__init__()

    # --- state for tests -------------------------------------------------------------------------------------

    def add_issue(
        self,
        title: str,
        *,
        team: str = "ENG",
        description: str = "",
        priority: int = 0,
        state: str = "Todo",
        assignee: str | None = None,
        labels: tuple[str, ...] = (),
        created_at: str = "2024-05-01T10:00:00.000Z",
    ) -> dict[str, Any]:
        number = next(self._numbers[team])
        identifier = f"{team}-{number}"
        node = {
            "id": str(uuid.uuid4()),
            "identifier": identifier,
            "title": title,
            "description": description,
            "priority": priority,
            "priorityLabel": ["No priority", "Urgent", "High", "Medium", "Low"][priority],
            "url": f"https://linear.app/{self.organization['urlKey']}/issue/{identifier.lower()}/{_slug(title)}",
            "createdAt": created_at,
            "updatedAt": created_at,
            "state": {"name": state},
            "assignee": {"name": assignee, "displayName": assignee.split()[0].lower()} if assignee else None,
            "creator": {"name": self.viewer["name"], "displayName": self.viewer["displayName"]},
            "labels": {"nodes": [{"name": name} for name in labels]},
            "comments": {"nodes": []},
            "relations": {"nodes": []},
            "inverseRelations": {"nodes": []},
            "_team": team,
        }
        self.issues[identifier] = node
        return node

    def add_comment(self, identifier: str, body: str, *, author: str = "Grace Hopper", at: str) -> None:
        issue = self.issues[identifier]
        issue["comments"]["nodes"].append(
            {
                "id": (comment_id := str(uuid.uuid4())),
                "body": body,
                "createdAt": at,
                "url": f"{issue['url']}#comment-{comment_id[:8]}",
                "user": {"name": author, "displayName": author.split()[0].lower()},
            }
        )

    def relate(self, identifier: str, kind: str, other: str) -> None:
        """`identifier` <kind> `other` (e.g. ENG-1 blocks ENG-2): seen from both issues, as Linear shows it."""
        one, two = self.issues[identifier], self.issues[other]
        one["relations"]["nodes"].append({"type": kind, "relatedIssue": _ref(two)})
        two["inverseRelations"]["nodes"].append({"type": kind, "issue": _ref(one)})

    def fail_operation(
        self,
        operation: str,
        errors: list[dict[str, Any]],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        count: int = 1,
    ) -> None:
        """The next `count` requests for `operation` answer these GraphQL errors (after the key check)."""
        self._scripted.append(ScriptedError(operation, status, errors, headers or {}, count))

    def spent_headers(self, reset_in_s: float) -> dict[str, str]:
        """Budget headers of a spent request budget that refills in `reset_in_s`."""
        return self._budget_headers(remaining=0, reset_in_s=reset_in_s)

    def operations(self) -> list[str]:
        names = []
        for request in self.seen("POST", "/graphql"):
            match = OPERATION.match((request.json() or {}).get("query", ""))
            names.append(match.group(2) if match else "?")
        return names

    # --- the service -----------------------------------------------------------------------------------------

    def routes(self) -> None:
        self.route("POST", "/graphql", self._graphql)

    def before(self, request: FakeRequest) -> Answer | None:
        granted = {self.api_key} | ({f"Bearer {self.oauth_token}"} if self.oauth_token else set())
        if request.headers.get("authorization") not in granted:
            return 400, {"errors": [AUTH_ERROR]}, self._budget_headers()
        return None

    def _graphql(self, request: FakeRequest) -> Answer:
        self.requests_remaining = max(0, self.requests_remaining - 1)
        body = request.json() or {}
        match = OPERATION.match(body.get("query") or "")
        name = match.group(2) if match else ""
        variables = body.get("variables") or {}
        for scripted in self._scripted:
            if scripted.operation == name and scripted.remaining > 0:
                scripted.remaining -= 1
                return scripted.status, {"errors": scripted.errors}, self._budget_headers() | scripted.headers
        handler = getattr(self, f"_op_{name}", None)
        if handler is None:
            error = {
                "message": f'Unknown operation "{name}"',
                "extensions": {"type": "graphql error", "code": "GRAPHQL_VALIDATION_FAILED", "userError": True},
            }
            return 400, {"errors": [error]}, self._budget_headers()
        status, payload = handler(variables)
        return status, payload, self._budget_headers()

    def _op_Viewer(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802 - Linear's operation names
        return 200, {"data": {"viewer": self.viewer, "organization": self.organization}}

    def _op_Issue(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        issue = self._find(variables.get("id"))
        if issue is None:
            return 200, {"data": None, "errors": [not_found_error("Issue", "issue")]}
        node = _public(issue)
        node["comments"] = {"nodes": issue["comments"]["nodes"][: int(variables.get("comments", 50))]}
        return 200, {"data": {"issue": node}}

    def _op_IssueRef(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        issue = self._find(variables.get("id"))
        if issue is None:
            return 200, {"data": None, "errors": [not_found_error("Issue", "issue")]}
        return 200, {"data": {"issue": {"id": issue["id"], "identifier": issue["identifier"]}}}

    def _op_SearchIssues(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        term = str(variables.get("term") or "").lower()
        hits = [i for i in self.issues.values() if term in i["title"].lower() or term in i["description"].lower()]
        start = 0
        if variables.get("after"):
            ids = [i["id"] for i in hits]
            if variables["after"] not in ids:
                error = {"message": "Invalid cursor", "extensions": {"type": "invalid input", "code": "INPUT_ERROR"}}
                return 400, {"errors": [error]}
            start = ids.index(variables["after"]) + 1
        first = int(variables.get("first") or 50)
        page = hits[start : start + first]
        more = start + first < len(hits)
        # Linear's cursors are the ids of the edge nodes.
        info = {"hasNextPage": more, "endCursor": page[-1]["id"] if page else None}
        nodes = [
            {k: v for k, v in _public(i).items() if k not in ("comments", "relations", "inverseRelations")}
            for i in page
        ]
        return 200, {"data": {"searchIssues": {"totalCount": len(hits), "pageInfo": info, "nodes": nodes}}}

    def _op_TeamByKey(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        nodes = [{"id": t["id"], "key": t["key"]} for t in self.teams if t["key"] == variables.get("key")]
        return 200, {"data": {"teams": {"nodes": nodes}}}

    def _op_LabelsByName(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        names = set(variables.get("names") or [])
        return 200, {"data": {"issueLabels": {"nodes": [label for label in self.labels if label["name"] in names]}}}

    def _op_IssueCreate(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        payload = variables.get("input") or {}
        team = next((t for t in self.teams if t["id"] == payload.get("teamId")), None)
        if team is None:
            return 200, {"data": None, "errors": [not_found_error("Team", "issueCreate")]}
        by_id = {label["id"]: label["name"] for label in self.labels}
        if any(label_id not in by_id for label_id in payload.get("labelIds") or []):
            return 200, {"data": None, "errors": [not_found_error("IssueLabel", "issueCreate")]}
        issue = self.add_issue(
            payload.get("title") or "",
            team=team["key"],
            description=payload.get("description") or "",
            labels=tuple(by_id[label_id] for label_id in payload.get("labelIds") or []),
        )
        return 200, {"data": {"issueCreate": {"success": True, "issue": _public(issue)}}}

    def _op_CommentCreate(self, variables: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        payload = variables.get("input") or {}
        issue = next((i for i in self.issues.values() if i["id"] == payload.get("issueId")), None)
        if issue is None:
            return 200, {"data": None, "errors": [not_found_error("Issue", "commentCreate")]}
        comment_id = str(uuid.uuid4())
        comment = {
            "id": comment_id,
            "url": f"{issue['url']}#comment-{comment_id[:8]}",
            "body": payload.get("body") or "",
            "createdAt": "2024-06-01T12:00:00.000Z",
            "user": {"name": self.viewer["name"], "displayName": self.viewer["displayName"]},
        }
        issue["comments"]["nodes"].append(comment)
        return 200, {"data": {"commentCreate": {"success": True, "comment": comment}}}

    def _find(self, key: Any) -> dict[str, Any] | None:
        if not isinstance(key, str):
            return None
        return self.issues.get(key) or next((i for i in self.issues.values() if i["id"] == key), None)

    def _budget_headers(self, *, remaining: int | None = None, reset_in_s: float | None = None) -> dict[str, str]:
        reset_ms = int((time.time() + (self.reset_in_s if reset_in_s is None else reset_in_s)) * 1000)
        return {
            "X-RateLimit-Requests-Limit": str(self.requests_limit),
            "X-RateLimit-Requests-Remaining": str(self.requests_remaining if remaining is None else remaining),
            "X-RateLimit-Requests-Reset": str(reset_ms),
            "X-Complexity": "12",
            "X-RateLimit-Complexity-Limit": "250000",
            "X-RateLimit-Complexity-Remaining": str(self.complexity_remaining),
            "X-RateLimit-Complexity-Reset": str(reset_ms),
        }


def _public(issue: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in issue.items() if not k.startswith("_")}


def _ref(issue: dict[str, Any]) -> dict[str, Any]:
    return {"identifier": issue["identifier"], "title": issue["title"], "url": issue["url"]}


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
