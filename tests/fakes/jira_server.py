"""A loopback Jira speaking REST v3 (Cloud: ADF rich text, `/search/jql` with `nextPageToken`) or REST v2
(Data Center: wiki markup, `/search` with `startAt`/`total`), in Jira's JSON shapes.

Cloud checks Basic auth (email + API token) and, like Jira Cloud, answers 410 on the removed offset search;
Data Center checks a Bearer personal access token and has no REST v3. Issues answer only the fields asked
for (`fields=`), errors use Jira's `{"errorMessages": [...], "errors": {...}}`. Tests script faults with
`fail_next` (a 429 with `Retry-After`, 5xx, a redirect), slow answers with `delay_s`, and read `requests`.
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_fake import Answer, FakeRequest, FakeService

ISSUE = r"(?P<key>[A-Z][A-Z0-9_]*-\d+)"


def adf(*paragraphs: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs],
    }


@dataclass
class FakeIssue:
    key: str
    summary: str
    status: str = "To Do"
    issue_type: str = "Story"
    priority: str = "Medium"
    labels: list[str] = field(default_factory=list)
    description: Any = None  # ADF (Cloud) or wiki markup (Data Center)
    comments: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    id: int = 0


def error(status: int, *messages: str, errors: dict[str, str] | None = None) -> Answer:
    return status, {"errorMessages": list(messages), "errors": errors or {}}, {}


WORKFLOW = {"To Do": ["In Progress"], "In Progress": ["In Review", "To Do"], "In Review": ["Done", "In Progress"]}
STATUS_IDS = {"To Do": "10000", "In Progress": "3", "In Review": "10001", "Done": "10002"}
EMAIL = "bot@acme.test"
API_TOKEN = "atl-api-token-s3cr3t"
PAT = "dc-pat-s3cr3t"


class FakeJira(FakeService):
    def __init__(
        self,
        deployment: str = "cloud",
        *,
        email: str = EMAIL,
        api_token: str = API_TOKEN,
        pat: str = PAT,
    ) -> None:
        self.deployment = deployment
        self.email = email
        self.api_token = api_token
        self.pat = pat
        self.delay_s = 0.0
        self.issues: dict[str, FakeIssue] = {}
        self.projects = {"ENG": "10000", "OPS": "10001"}
        self.issue_types = {"Task": "10002", "Story": "10001", "Bug": "10004"}
        self.granted = {"BROWSE_PROJECTS", "CREATE_ISSUES", "ADD_COMMENTS"}
        self._ids = itertools.count(10001)
        self._comment_ids = itertools.count(20001)
        super().__init__()

    @property
    def version(self) -> str:
        return "3" if self.deployment == "cloud" else "2"

    # --- people -------------------------------------------------------------------------------------------

    def user(self, name: str = "Jira Bot") -> dict[str, Any]:
        if self.deployment == "cloud":
            return {
                "self": f"{self.url}/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d4ef5",
                "accountId": "5b10ac8d82e05b22cc7d4ef5",
                "accountType": "atlassian",
                "emailAddress": self.email,
                "displayName": name,
                "active": True,
                "timeZone": "Europe/Paris",
            }
        return {
            "self": f"{self.url}/rest/api/2/user?username=jbot",
            "name": "jbot",
            "key": "JIRAUSER10100",
            "emailAddress": self.email,
            "displayName": name,
            "active": True,
        }

    def add_issue(self, issue: FakeIssue) -> FakeIssue:
        issue.id = issue.id or next(self._ids)
        self.issues[issue.key] = issue
        return issue

    def comment(self, body: Any, author: str = "Grace Hopper", created: str = "2024-05-02T09:00:00.000+0000"):
        return {
            "self": f"{self.url}/rest/api/{self.version}/issue/10001/comment/{next(self._comment_ids)}",
            "id": str(next(self._comment_ids)),
            "author": self.user(author),
            "body": body,
            "updateAuthor": self.user(author),
            "created": created,
            "updated": created,
            "jsdPublic": True,
        }

    # --- routing --------------------------------------------------------------------------------------------

    def routes(self) -> None:
        api = r"/rest/api/(?P<v>[23])"
        self.route("GET", f"{api}/myself", self._myself)
        self.route("GET", f"{api}/mypermissions", self._permissions)
        self.route("GET", f"{api}/serverInfo", self._server_info)
        self.route("GET", f"{api}/issue/{ISSUE}", self._get_issue)
        self.route("GET", f"{api}/search/jql", self._search_jql)
        self.route("POST", f"{api}/search/jql", self._search_jql)
        self.route("GET", f"{api}/search", self._search)
        self.route("POST", f"{api}/issue", self._create)
        self.route("POST", f"{api}/issue/{ISSUE}/comment", self._add_comment)
        self.route("GET", f"{api}/issue/{ISSUE}/transitions", self._transitions)
        self.route("POST", f"{api}/issue/{ISSUE}/transitions", self._transition)

    def before(self, request: FakeRequest) -> Answer | None:
        if self.delay_s:
            time.sleep(self.delay_s)
        if not self._authenticated(request.headers.get("authorization", "")):
            return 401, {"errorMessages": ["You are not authenticated. Authentication required."], "errors": {}}, {}
        version = re.match(r"^/rest/api/(\d)/", request.path)
        if version and version.group(1) == "3" and self.deployment != "cloud":
            return 404, "<html><body>Not Found</body></html>", {"Content-Type": "text/html"}
        return None

    def unmatched(self, request: FakeRequest) -> Answer:
        return error(404, "null for uri: " + request.path)

    def _authenticated(self, header: str) -> bool:
        if header.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == self.email and secret == self.api_token
        if header.startswith("Bearer "):
            return self.deployment != "cloud" and header[7:] == self.pat
        return False

    # --- handlers ---------------------------------------------------------------------------------------------

    def _myself(self, request: FakeRequest) -> Answer:
        return 200, self.user(), {}

    def _permissions(self, request: FakeRequest) -> Answer:
        asked = (request.param("permissions") or "").split(",")
        if self.deployment == "cloud" and not asked[0]:
            return error(400, "The permissions query parameter is required.")
        return (
            200,
            {
                "permissions": {
                    key: {
                        "id": str(index),
                        "key": key,
                        "name": key.replace("_", " ").title(),
                        "type": "PROJECT",
                        "description": f"Ability to {key.lower().replace('_', ' ')}.",
                        "havePermission": key in self.granted,
                    }
                    for index, key in enumerate(asked, start=10)
                }
            },
            {},
        )

    def _server_info(self, request: FakeRequest) -> Answer:
        cloud = self.deployment == "cloud"
        return (
            200,
            {
                "baseUrl": self.url,
                "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
                "deploymentType": "Cloud" if cloud else "Server",
                "serverTitle": "Jira",
            },
            {},
        )

    def issue_json(self, issue: FakeIssue, wanted: list[str] | None) -> dict[str, Any]:
        v = self.version
        fields: dict[str, Any] = {
            "summary": issue.summary,
            "status": {
                "self": f"{self.url}/rest/api/{v}/status/{STATUS_IDS[issue.status]}",
                "description": "",
                "name": issue.status,
                "id": STATUS_IDS[issue.status],
                "statusCategory": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
            },
            "issuetype": {
                "id": self.issue_types.get(issue.issue_type, "1"),
                "name": issue.issue_type,
                "subtask": False,
            },
            "priority": {"name": issue.priority, "id": "3"},
            "assignee": self.user("Ada Lovelace"),
            "reporter": self.user("Grace Hopper"),
            "labels": issue.labels,
            "description": issue.description,
            "comment": {
                "comments": issue.comments,
                "self": f"{self.url}/rest/api/{v}/issue/{issue.id}/comment",
                "maxResults": len(issue.comments),
                "total": len(issue.comments),
                "startAt": 0,
            },
            "issuelinks": issue.links,
            "created": "2024-05-01T10:00:00.000+0000",
            "updated": "2024-05-03T16:30:00.000+0200",
            **issue.custom,
        }
        if wanted is not None and "*all" not in wanted:
            fields = {name: value for name, value in fields.items() if name in wanted}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(issue.id),
            "self": f"{self.url}/rest/api/{v}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }

    @staticmethod
    def _wanted(request: FakeRequest) -> list[str] | None:
        values = request.query.get("fields")
        if not values:
            return None
        return [name.strip() for value in values for name in value.split(",") if name.strip()]

    def _get_issue(self, request: FakeRequest) -> Answer:
        issue = self.issues.get(request.match["key"])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        return 200, self.issue_json(issue, self._wanted(request)), {}

    def _matching(self, jql: str) -> list[FakeIssue] | Answer:
        """A tiny JQL: `field = value` / `field ~ "text"` clauses joined by AND, then an optional ORDER BY."""
        query = re.split(r"\s+ORDER\s+BY\s+", jql.strip(), flags=re.IGNORECASE)[0]
        issues = list(self.issues.values())
        for clause in filter(None, re.split(r"\s+AND\s+", query, flags=re.IGNORECASE)):
            match = re.match(r'^\s*(\w+)\s*(=|~)\s*"?([^"]*?)"?\s*$', clause)
            if not match:
                return error(400, f"Error in the JQL Query: Expecting operator but got '{clause.strip()[:30]}'.")
            name, op, value = match.groups()
            name = name.lower()
            if name == "project":
                issues = [i for i in issues if i.key.split("-")[0] == value.upper()]
            elif name == "status":
                issues = [i for i in issues if i.status.lower() == value.lower()]
            elif name == "labels":
                issues = [i for i in issues if value in i.labels]
            elif name in ("text", "summary") and op == "~":
                issues = [i for i in issues if value.lower() in i.summary.lower()]
            else:
                return error(400, f"Field '{name}' does not exist or you do not have permission to view it.")
        return sorted(issues, key=lambda i: (i.key.split("-")[0], int(i.key.split("-")[1])))

    def _search_jql(self, request: FakeRequest) -> Answer:
        if self.deployment != "cloud":
            return error(404, "null for uri: " + request.path)
        params = request.json() if request.method == "POST" else {k: v[0] for k, v in request.query.items()}
        found = self._matching(str(params.get("jql") or ""))
        if not isinstance(found, list):
            return found
        token = params.get("nextPageToken")
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(str(token)).decode().removeprefix("offset:"))
            except ValueError:
                return error(400, "The provided next page token is invalid or expired.")
        size = min(int(params.get("maxResults") or 50), 5000)
        page = found[start : start + size]
        body: dict[str, Any] = {"issues": [self.issue_json(i, self._wanted(request)) for i in page]}
        if start + size < len(found):
            body["nextPageToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
            body["isLast"] = False
        else:
            body["isLast"] = True  # and, as Jira Cloud does, no nextPageToken key at all
        return 200, body, {}

    def _search(self, request: FakeRequest) -> Answer:
        if self.deployment == "cloud":
            return error(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.")
        found = self._matching(request.param("jql") or "")
        if not isinstance(found, list):
            return found
        start = int(request.param("startAt") or 0)
        size = min(int(request.param("maxResults") or 50), 1000)
        page = found[start : start + size]
        return (
            200,
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": [self.issue_json(i, self._wanted(request)) for i in page],
            },
            {},
        )

    def _rich_text_error(self, value: Any, name: str) -> Answer | None:
        if self.deployment == "cloud" and value is not None and not _is_adf(value):
            return error(400, errors={name: "Operation value must be an Atlassian Document (see the ADF format)"})
        if self.deployment != "cloud" and value is not None and not isinstance(value, str):
            return error(400, errors={name: "Operation value must be a string"})
        return None

    def _create(self, request: FakeRequest) -> Answer:
        fields = (request.json() or {}).get("fields") or {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            return error(400, errors={"project": "valid project is required"})
        if (fields.get("issuetype") or {}).get("name") not in self.issue_types:
            return error(400, errors={"issuetype": "Specify a valid issue type"})
        if not fields.get("summary"):
            return error(400, errors={"summary": "You must specify a summary of the issue."})
        refused = self._rich_text_error(fields.get("description"), "description")
        if refused:
            return refused
        number = 1 + max([int(k.split("-")[1]) for k in self.issues if k.startswith(project + "-")] or [0])
        issue = self.add_issue(
            FakeIssue(
                key=f"{project}-{number}",
                summary=fields["summary"],
                issue_type=fields["issuetype"]["name"],
                labels=list(fields.get("labels") or []),
                description=deepcopy(fields.get("description")),
            )
        )
        return (
            201,
            {"id": str(issue.id), "key": issue.key, "self": f"{self.url}/rest/api/{self.version}/issue/{issue.id}"},
            {},
        )

    def _add_comment(self, request: FakeRequest) -> Answer:
        issue = self.issues.get(request.match["key"])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        body = (request.json() or {}).get("body")
        if body in (None, ""):
            return error(400, errors={"comment": "Comment body can not be empty!"})
        refused = self._rich_text_error(body, "comment")
        if refused:
            return refused
        created = self.comment(body, author="Jira Bot", created="2024-05-04T08:00:00.000+0000")
        issue.comments.append(created)
        return 201, created, {}

    def _available(self, issue: FakeIssue) -> list[dict[str, Any]]:
        return [
            {
                "id": str(11 + 10 * index),
                "name": f"Move to {target}" if target != "Done" else "Resolve",
                "to": {
                    "self": f"{self.url}/rest/api/{self.version}/status/{STATUS_IDS[target]}",
                    "name": target,
                    "id": STATUS_IDS[target],
                    "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
                },
                "hasScreen": False,
                "isGlobal": False,
                "isInitial": False,
                "isConditional": False,
            }
            for index, target in enumerate(WORKFLOW.get(issue.status, []))
        ]

    def _transitions(self, request: FakeRequest) -> Answer:
        issue = self.issues.get(request.match["key"])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        return 200, {"expand": "transitions", "transitions": self._available(issue)}, {}

    def _transition(self, request: FakeRequest) -> Answer:
        issue = self.issues.get(request.match["key"])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        wanted = str(((request.json() or {}).get("transition") or {}).get("id"))
        for option in self._available(issue):
            if option["id"] == wanted:
                issue.status = option["to"]["name"]
                return 204, None, {}
        return error(400, f"Transition id '{wanted}' is not valid for this issue.")


def _is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1
