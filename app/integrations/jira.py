"""Jira Cloud and Data Center through the `jira` package: issues (fields, description, comments, links,
acceptance criteria), JQL search with paging, create, comment, transition.

Cloud (`https://<site>.atlassian.net`, email + API token as Basic auth) speaks REST v3: rich text is ADF,
and search is `/rest/api/3/search/jql` with `nextPageToken` (the offset search was removed from Cloud).
Data Center (your host and context path, a personal access token as Bearer) speaks REST v2: rich text is
wiki markup, search is `/rest/api/2/search` with `startAt`. Which one a connection is comes from its
`deployment` option, else its host, else its credentials (`app.integrations.atlassian_calls`).

Acceptance criteria come from the custom field named by the `acceptance_criteria_field` option (e.g.
`customfield_10042`) when it has any, else from an "Acceptance criteria" / "AC:" section of the description,
else from its checklist items.

The library is blocking: each call runs in the runtime's thread pool via `AtlassianCalls`. It is built
without the server-info call (`get_server_info=False`), without its sleeping retries (`max_retries=0`), and
with our timeout; our retry, rate-limit and error policy wraps every call.
"""

from __future__ import annotations

import re
from typing import Any

from jira import JIRA

from app.errors import IntegrationError, IntegrationRejected
from app.integrations.atlassian_calls import AtlassianCalls, auth_of, deployment_of, guard_session
from app.integrations.atlassian_text import markdown_to_adf, markdown_to_wiki
from app.integrations.connection import ConnectionInfo
from app.integrations.jira_issue import (
    ISSUE_FIELDS,
    SEARCH_FIELDS,
    bounded,
    comment_from_json,
    issue_from_json,
    issue_url,
)
from app.integrations.runtime import IntegrationRuntime
from app.integrations.types import Identity, TrackerComment, TrackerIssue, TrackerSearchPage

SERVICE = "jira"
ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}$")
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")
CUSTOM_FIELD = re.compile(r"^customfield_[0-9]{1,12}$")
# What `identity()` asks about: the permissions Adjutant's tools use.
PERMISSIONS = ("BROWSE_PROJECTS", "CREATE_ISSUES", "ADD_COMMENTS", "TRANSITION_ISSUES", "EDIT_ISSUES")
MAX_PAGE = 100
MAX_JQL_CHARS = 5000
MAX_SUMMARY_CHARS = 255
MAX_BODY_CHARS = 32_000  # Jira refuses text fields over 32,767 characters
SEARCH_TEXT_CHARS = 2000


class JiraClient:
    def __init__(self, connection: ConnectionInfo, runtime: IntegrationRuntime) -> None:
        self.connection = connection
        self.base_url = connection.base_url.rstrip("/")
        self.deployment = deployment_of(connection)
        self.cloud = self.deployment == "cloud"
        auth = auth_of(connection)
        criteria_field = connection.options.get("acceptance_criteria_field") or None
        if criteria_field is not None and not CUSTOM_FIELD.match(str(criteria_field)):
            raise IntegrationRejected(
                "jira option acceptance_criteria_field must be a field id like customfield_10042", service=SERVICE
            )
        self._criteria_field: str | None = criteria_field
        self._jira = JIRA(
            server=self.base_url,
            options={"rest_api_version": "3" if self.cloud else "2", "check_update": False},
            basic_auth=auth.basic,
            token_auth=None if auth.basic else auth.secret,
            get_server_info=False,
            max_retries=0,
            timeout=runtime.policy.timeout_s,
            logging=False,  # its logs would carry request bodies; ours say what failed
        )
        guard_session(self._jira._session, self.base_url)
        self._calls = AtlassianCalls(
            SERVICE, limiter=runtime.limiter(connection), pool=runtime.pool, policy=runtime.policy
        )

    async def aclose(self) -> None:
        self._jira.close()

    # --- reading --------------------------------------------------------------------------------------------

    async def identity(self) -> Identity:
        """Who the credentials act as (`myself`) and which of the permissions the tools use they hold."""
        me = await self._calls.read(self._jira.myself)
        granted = await self._calls.read(self._jira.my_permissions, permissions=",".join(PERMISSIONS))
        permissions = (granted or {}).get("permissions") or {}
        scopes = sorted(
            str(p.get("key") or name)
            for name, p in permissions.items()
            if isinstance(p, dict) and p.get("havePermission")
        )
        return Identity(
            login=str(me.get("accountId") or me.get("name") or me.get("key") or ""),
            name=me.get("displayName"),
            scopes=scopes,
            detail=f"Jira {'Cloud (REST v3)' if self.cloud else 'Data Center (REST v2)'} at {self.base_url}",
        )

    async def get_issue(self, key: str, *, max_comments: int = 20, max_chars: int = 20_000) -> TrackerIssue:
        """The issue with its description, latest `max_comments` comments, links and acceptance criteria."""
        key = _issue_key(key)
        fields = ",".join(ISSUE_FIELDS + ((self._criteria_field,) if self._criteria_field else ()))
        raw = await self._calls.read(lambda: self._jira.issue(key, fields=fields).raw)
        return issue_from_json(
            raw,
            base_url=self.base_url,
            criteria_field=self._criteria_field,
            max_comments=max(0, min(max_comments, 100)),
            max_chars=max_chars,
        )

    async def search(self, jql: str, *, limit: int = 20, cursor: str | None = None) -> TrackerSearchPage:
        """One page of the issues `jql` finds; pass `next_cursor` back for the next page."""
        if not jql.strip() or len(jql) > MAX_JQL_CHARS:
            raise IntegrationRejected(
                f"jira: a JQL query of 1 to {MAX_JQL_CHARS} characters is needed", service=SERVICE
            )
        limit = max(1, min(limit, MAX_PAGE))
        fields = ",".join(SEARCH_FIELDS + ((self._criteria_field,) if self._criteria_field else ()))
        params: dict[str, Any] = {"jql": jql, "maxResults": limit, "fields": fields}
        if self.cloud:
            if cursor:
                params["nextPageToken"] = _cloud_cursor(cursor)
            path = "search/jql"
        else:
            start = _offset_cursor(cursor)
            params["startAt"] = start
            path = "search"
        # The library's search methods first download every field definition to translate JQL names; we send
        # field ids, so its plain GET is used.
        body = await self._calls.read(self._jira._get_json, path, params=params)
        issues = [
            issue_from_json(
                raw,
                base_url=self.base_url,
                criteria_field=self._criteria_field,
                max_comments=0,
                max_chars=SEARCH_TEXT_CHARS,
            )
            for raw in (body.get("issues") or [])
            if isinstance(raw, dict)
        ][:limit]
        if self.cloud:
            token = body.get("nextPageToken")
            last = body.get("isLast", not token)
            return TrackerSearchPage(issues=issues, total=None, next_cursor=str(token) if token and not last else None)
        total = body.get("total")
        start = int(body.get("startAt") or params["startAt"])
        following = start + len(issues)
        more = bool(issues) and isinstance(total, int) and following < total
        return TrackerSearchPage(issues=issues, total=total, next_cursor=str(following) if more else None)

    # --- writing --------------------------------------------------------------------------------------------

    async def create_issue(
        self,
        project: str,
        summary: str,
        description: str = "",
        issue_type: str = "Task",
        labels: list[str] | tuple[str, ...] = (),
    ) -> TrackerIssue:
        """Create an issue; `description` is Markdown (sent as ADF on Cloud, wiki markup on Data Center)."""
        project = project.strip().upper()
        if not PROJECT_KEY.match(project):
            raise IntegrationRejected(f"jira: {project[:40]!r} is not a project key", service=SERVICE)
        summary = " ".join(summary.split())
        if not summary or len(summary) > MAX_SUMMARY_CHARS:
            raise IntegrationRejected(
                f"jira: a summary of 1 to {MAX_SUMMARY_CHARS} characters is needed", service=SERVICE
            )
        for label in labels:
            if not label or len(label) > 255 or any(c.isspace() for c in label):
                raise IntegrationRejected("jira: labels cannot be empty or contain spaces", service=SERVICE)
        _check_body(description)
        fields: dict[str, Any] = {
            "project": {"key": project},
            "summary": summary,
            "issuetype": {"name": issue_type.strip() or "Task"},
        }
        if labels:
            fields["labels"] = list(labels)
        if description.strip():
            fields["description"] = self._rich(description)
        created = await self._calls.write(lambda: self._jira.create_issue(fields=fields, prefetch=False).raw)
        key = str(created.get("key") or "")
        try:
            return await self.get_issue(key)
        except IntegrationError:
            # The issue exists: report it rather than a failure a caller would retry into a duplicate.
            return TrackerIssue(
                key=key,
                title=summary,
                issue_type=fields["issuetype"]["name"],
                labels=list(labels),
                description=description,
                url=issue_url(self.base_url, key),
            )

    async def comment(self, key: str, body: str) -> TrackerComment:
        """Add a comment (Markdown) to an issue."""
        key = _issue_key(key)
        if not body.strip():
            raise IntegrationRejected("jira: an empty comment", service=SERVICE)
        _check_body(body)
        payload = self._rich(body)
        raw = await self._calls.write(lambda: self._jira.add_comment(key, payload).raw)  # type: ignore[arg-type]
        comment_id = raw.get("id")
        url = f"{issue_url(self.base_url, key)}?focusedCommentId={comment_id}" if comment_id else None
        return comment_from_json(raw, url=url, max_chars=MAX_BODY_CHARS)

    async def transition(self, key: str, to_status_name: str) -> str:
        """Move the issue to the status named `to_status_name` (case-insensitive) by the transition that leads
        there; returns the status's name. IntegrationRejected, naming the reachable statuses, when none does."""
        key = _issue_key(key)
        wanted = to_status_name.strip().casefold()
        transitions = await self._calls.read(self._jira.transitions, key)
        options = [t for t in transitions or [] if isinstance(t, dict)]
        chosen = next((t for t in options if str((t.get("to") or {}).get("name", "")).casefold() == wanted), None)
        if chosen is None:
            chosen = next((t for t in options if str(t.get("name", "")).casefold() == wanted), None)
        if chosen is None:
            reachable = sorted({str((t.get("to") or {}).get("name") or t.get("name")) for t in options})
            raise IntegrationRejected(
                f"jira cannot move {key} to {bounded(to_status_name, 60)!r}; it can go to: "
                + (", ".join(reachable) if reachable else "no other status"),
                service=SERVICE,
            )
        await self._calls.write(self._jira.transition_issue, key, str(chosen["id"]))
        return str((chosen.get("to") or {}).get("name") or chosen.get("name"))

    def _rich(self, markdown: str) -> Any:
        return markdown_to_adf(markdown) if self.cloud else markdown_to_wiki(markdown)


def _issue_key(key: str) -> str:
    normal = key.strip().upper()
    if not ISSUE_KEY.match(normal):
        raise IntegrationRejected(f"jira: {key[:40]!r} is not an issue key (like ENG-42)", service=SERVICE)
    return normal


def _check_body(text: str) -> None:
    if len(text) > MAX_BODY_CHARS:
        raise IntegrationRejected(f"jira: text longer than {MAX_BODY_CHARS} characters", service=SERVICE)


def _cloud_cursor(cursor: str) -> str:
    if len(cursor) > 2000 or not re.fullmatch(r"[A-Za-z0-9_\-=+/.:]+", cursor):
        raise IntegrationRejected("jira: not a cursor a search returned", service=SERVICE)
    return cursor


def _offset_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise IntegrationRejected("jira: not a cursor a search returned", service=SERVICE)
    return int(cursor)
