"""Server tools over the team's connections: Jira, Confluence, Linear and the SCM (GitHub, GitLab, Bitbucket).

Each tool names the connection kinds it needs and is offered only when the team has one. Its input is a
pydantic model (the schema the model sees), its output bounded text that starts with the URL of what it
read, so answers can cite it. A failure of the service is not a failed turn: the tool result says what
happened with the typed reason (`rate_limited`, `not_found`, ...) and the model decides what to tell the user.
Tools marked `writes` (create an issue, add a comment) are offered only when the request explicitly asks.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, model_validator

from app.errors import IntegrationError, IntegrationRejected, InvalidRequest
from app.integrations.clients import client_for
from app.integrations.connection import SCM_KINDS, ConnectionInfo
from app.integrations.connections import Connections
from app.integrations.types import Commit, DocPage, PullRequest, TrackerIssue
from app.tools.server_tools import ServerTool, ToolContext

ConnectionName = Field(
    default=None, max_length=100, description="Which connection to use when the team has several; default the first."
)
EXPLICIT_WRITE = re.compile(
    r"\b(create|open|file|raise|log|add|post|write|leave)\b.{0,40}\b(issue|ticket|bug|task|story|comment|note)s?\b"
    r"|\bcomment\s+on\b",
    re.IGNORECASE | re.DOTALL,
)
PR_PATHS = (
    re.compile(r"^/(?P<repo>[^/]+/[^/]+)/pull/(?P<number>[0-9]+)"),  # GitHub
    re.compile(r"^/(?P<repo>.+?)/-/merge_requests/(?P<number>[0-9]+)"),  # GitLab
    re.compile(r"^/(?P<repo>[^/]+/[^/]+)/pull-requests/(?P<number>[0-9]+)"),  # Bitbucket
)
DIFF_CHARS = 8000


def explicitly_asks_to_write(query: str) -> bool:
    return bool(EXPLICIT_WRITE.search(query))


# --- inputs ----------------------------------------------------------------------------------------------


class JiraGetIssue(BaseModel):
    key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,19}-[0-9]{1,9}$", description="The issue key, e.g. PAY-142.")
    connection: str | None = ConnectionName


class JiraSearch(BaseModel):
    jql: str = Field(min_length=1, max_length=2000, description="A JQL query, e.g. project = PAY AND status = Open.")
    limit: int = Field(default=10, ge=1, le=50)
    cursor: str | None = Field(default=None, max_length=2000, description="next_cursor of a previous page.")
    connection: str | None = ConnectionName


class JiraCreateIssue(BaseModel):
    project: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,19}$")
    summary: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=20000)
    issue_type: str = Field(default="Task", max_length=60)
    labels: list[str] = Field(default_factory=list, max_length=10)
    connection: str | None = ConnectionName


class JiraAddComment(BaseModel):
    key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,19}-[0-9]{1,9}$")
    body: str = Field(min_length=1, max_length=20000)
    connection: str | None = ConnectionName


class ConfluenceSearch(BaseModel):
    cql: str = Field(
        min_length=1, max_length=2000, description='CQL, e.g. type = page AND text ~ "rollback" AND space = ENG.'
    )
    limit: int = Field(default=5, ge=1, le=20)
    connection: str | None = ConnectionName


class ConfluenceGetPage(BaseModel):
    page_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    space: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=255)
    connection: str | None = ConnectionName

    @model_validator(mode="after")
    def _one_way(self) -> ConfluenceGetPage:
        if self.page_id is None and not (self.space and self.title):
            raise ValueError("give page_id, or space and title")
        return self


class LinearGetIssue(BaseModel):
    identifier: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,9}-[0-9]{1,9}$", description="e.g. ENG-123.")
    connection: str | None = ConnectionName


class LinearSearch(BaseModel):
    text: str = Field(min_length=1, max_length=500)
    limit: int = Field(default=10, ge=1, le=50)
    cursor: str | None = Field(default=None, max_length=500)
    connection: str | None = ConnectionName


class LinearAddComment(BaseModel):
    identifier: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,9}-[0-9]{1,9}$")
    body: str = Field(min_length=1, max_length=20000)
    connection: str | None = ConnectionName


Repo = Field(min_length=3, max_length=300, pattern=r"^[^\s/]+(/[^\s/]+)+$", description="owner/name (group/project).")


class ScmGetFile(BaseModel):
    repo: str = Repo
    path: str = Field(min_length=1, max_length=1000)
    ref: str | None = Field(default=None, max_length=255, description="Branch, tag or commit; default branch if none.")
    connection: str | None = ConnectionName


class ScmListPullRequests(BaseModel):
    repo: str = Repo
    state: Literal["open", "closed", "merged", "all"] = "open"
    limit: int = Field(default=20, ge=1, le=50)
    connection: str | None = ConnectionName


class ScmGetPullRequest(BaseModel):
    url: str | None = Field(default=None, max_length=1000, description="The pull/merge request's web URL.")
    repo: str | None = Field(default=None, min_length=3, max_length=300, pattern=r"^[^\s/]+(/[^\s/]+)+$")
    number: int | None = Field(default=None, ge=1, le=10**9)
    include_diff: bool = True
    connection: str | None = ConnectionName

    @model_validator(mode="after")
    def _one_way(self) -> ScmGetPullRequest:
        if self.url is None and (self.repo is None or self.number is None):
            raise ValueError("give url, or repo and number")
        return self


class ScmSearchCode(BaseModel):
    query: str = Field(min_length=1, max_length=256)
    repo: str | None = Field(default=None, min_length=3, max_length=300, pattern=r"^[^\s/]+(/[^\s/]+)+$")
    limit: int = Field(default=10, ge=1, le=30)
    connection: str | None = ConnectionName


class ScmListCommits(BaseModel):
    repo: str = Repo
    ref: str | None = Field(default=None, max_length=255)
    path: str | None = Field(default=None, max_length=1000)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=20, ge=1, le=100)
    connection: str | None = ConnectionName


# --- formatting ------------------------------------------------------------------------------------------


def format_issue(issue: TrackerIssue) -> str:
    lines = [f"URL: {issue.url}", f"{issue.key}: {issue.title}"]
    facts = [
        ("Status", issue.status),
        ("Type", issue.issue_type),
        ("Priority", issue.priority),
        ("Assignee", issue.assignee),
        ("Reporter", issue.reporter),
        ("Labels", ", ".join(issue.labels) or None),
        ("Updated", issue.updated_at.isoformat() if issue.updated_at else None),
    ]
    lines += [f"{name}: {value}" for name, value in facts if value]
    if issue.description:
        lines += ["", "Description:", issue.description]
    if issue.acceptance_criteria:
        lines += ["", "Acceptance criteria:"] + [f"- {item}" for item in issue.acceptance_criteria]
    if issue.links:
        lines += ["", "Links:"] + [
            f"- {link.relation} {link.key}" + (f": {link.title}" if link.title else "") for link in issue.links
        ]
    if issue.comments:
        lines += ["", f"Comments ({len(issue.comments)}):"]
        for comment in issue.comments[-10:]:
            when = comment.created_at.date().isoformat() if comment.created_at else ""
            lines.append(f"- {comment.author or '?'} {when}: {comment.body}")
    return "\n".join(lines)


def format_issue_line(issue: TrackerIssue) -> str:
    status = f" [{issue.status}]" if issue.status else ""
    owner = f" ({issue.assignee})" if issue.assignee else ""
    return f"- {issue.key}{status}{owner}: {issue.title} — {issue.url}"


def format_page(page: DocPage) -> str:
    head = [f"URL: {page.url}", f"Page {page.id}: {page.title}" + (f" (space {page.space})" if page.space else "")]
    if page.version:
        head.append(f"Version {page.version}")
    return "\n".join(head) + "\n\n" + page.body_markdown


def format_pull_request(pr: PullRequest, diff: str | None) -> str:
    lines = [
        f"URL: {pr.url}",
        f"{pr.repo}#{pr.number}: {pr.title} [{pr.state}]",
        f"Author: {pr.author or '?'}; {pr.source_branch or '?'} -> {pr.target_branch or '?'}",
    ]
    if pr.labels:
        lines.append("Labels: " + ", ".join(pr.labels))
    if pr.body:
        lines += ["", "Description:", pr.body]
    if pr.files:
        lines += ["", f"Files ({len(pr.files)}):"] + [
            f"- {f.status} {f.path} (+{f.additions} -{f.deletions})" for f in pr.files
        ]
    if diff:
        cut = diff[:DIFF_CHARS]
        lines += ["", "Diff:" + (" (first part)" if len(diff) > DIFF_CHARS else ""), cut]
    return "\n".join(lines)


def format_commit(commit: Commit) -> str:
    first = commit.message.splitlines()[0] if commit.message else ""
    when = commit.authored_at.date().isoformat() if commit.authored_at else ""
    who = commit.author_login or commit.author_name or "?"
    return f"- {commit.sha[:10]} {when} {who}: {first} — {commit.url}"


def parse_pull_request_url(url: str) -> tuple[str, str, int]:
    """(host, repo, number) of a GitHub, GitLab or Bitbucket pull request page."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IntegrationRejected("not a pull request URL")
    for pattern in PR_PATHS:
        found = pattern.match(parts.path)
        if found:
            return parts.hostname.lower(), found.group("repo"), int(found.group("number"))
    raise IntegrationRejected("not a pull request URL (GitHub /pull/N, GitLab /-/merge_requests/N, Bitbucket)")


# --- the tools -------------------------------------------------------------------------------------------


class IntegrationTools:
    """Builds the tools over a `Connections` service; each call opens a client, uses it, closes it."""

    def __init__(self, connections: Connections, *, max_output_chars: int) -> None:
        self.connections = connections
        self.max_output_chars = max_output_chars

    def tools(self) -> list[ServerTool]:
        tracker = ("jira",)
        return [
            self._tool("jira_get_issue", "Read a Jira issue: fields, description, acceptance criteria, comments, "
                       "links.", JiraGetIssue, tracker, self._jira_get_issue),
            self._tool("jira_search", "Find Jira issues with JQL; returns keys, status, assignee, title and URL.",
                       JiraSearch, tracker, self._jira_search),
            self._tool("jira_create_issue", "Create a Jira issue. Only when the user explicitly asked for it.",
                       JiraCreateIssue, tracker, self._jira_create, writes=True),
            self._tool("jira_add_comment", "Add a comment to a Jira issue. Only when the user explicitly asked.",
                       JiraAddComment, tracker, self._jira_comment, writes=True),
            self._tool("confluence_search", "Search Confluence with CQL; returns page titles, excerpts and URLs.",
                       ConfluenceSearch, ("confluence",), self._confluence_search),
            self._tool("confluence_get_page", "Read a Confluence page (by id, or by space and title) as Markdown.",
                       ConfluenceGetPage, ("confluence",), self._confluence_get_page),
            self._tool("linear_get_issue", "Read a Linear issue by identifier (e.g. ENG-123).", LinearGetIssue,
                       ("linear",), self._linear_get_issue),
            self._tool("linear_search", "Search Linear issues by text.", LinearSearch, ("linear",),
                       self._linear_search),
            self._tool("linear_add_comment", "Comment on a Linear issue. Only when the user explicitly asked.",
                       LinearAddComment, ("linear",), self._linear_comment, writes=True),
            self._tool("scm_get_file", "Read a file from a repository on GitHub/GitLab/Bitbucket at a ref.",
                       ScmGetFile, SCM_KINDS, self._scm_get_file),
            self._tool("scm_list_pull_requests", "List a repository's pull requests (newest first).",
                       ScmListPullRequests, SCM_KINDS, self._scm_list_prs),
            self._tool("scm_get_pull_request", "Read a pull request by URL or repo+number: metadata, changed files "
                       "and a bounded diff.", ScmGetPullRequest, SCM_KINDS, self._scm_get_pr),
            self._tool("scm_search_code", "Search code on the SCM (optionally in one repository).", ScmSearchCode,
                       SCM_KINDS, self._scm_search_code),
            self._tool("scm_list_commits", "List commits of a repository (optionally of a path, ref or period).",
                       ScmListCommits, SCM_KINDS, self._scm_list_commits),
        ]  # fmt: skip

    def _tool(
        self,
        name: str,
        description: str,
        model: type[BaseModel],
        needs: tuple[str, ...],
        action: Callable[[Any, ConnectionInfo, Any], Awaitable[str]],
        *,
        writes: bool = False,
    ) -> ServerTool:
        async def run(arguments: BaseModel, context: ToolContext) -> str:
            try:
                connection = await self._pick(context.team_id, needs, getattr(arguments, "connection", None), arguments)
                # Checked again per call, not only when the connection was added: the name may resolve elsewhere now.
                await self.connections.check_address(connection.base_url)
                client = client_for(connection, self.connections.runtime)
                try:
                    text = await action(arguments, connection, client)
                finally:
                    await client.aclose()
            except IntegrationError as exc:
                return tool_failure(exc)
            except InvalidRequest as exc:  # the address policy refused the connection's host
                return f"ERROR (refused): {exc.detail}."
            return bound(text, self.max_output_chars)

        return ServerTool(name=name, description=description, model=model, run=run, needs=needs, writes=writes)

    async def _pick(self, team_id: int, kinds: tuple[str, ...], name: str | None, arguments: Any) -> ConnectionInfo:
        found = await self.connections.team_connections(team_id, kinds)
        if name:
            found = [c for c in found if c.name == name]
        url = getattr(arguments, "url", None)
        if url and len(found) > 1:  # a PR URL names its host: use the connection of that host
            host = parse_pull_request_url(url)[0]
            same = [c for c in found if (urlsplit(c.base_url).hostname or "").lower().removeprefix("api.") == host]
            found = same or found
        if not found:
            wanted = f"named {name!r}" if name else f"of kind {'/'.join(kinds)}"
            raise IntegrationRejected(f"the team has no usable connection {wanted}")
        return found[0]

    # --- Jira ---

    async def _jira_get_issue(self, a: JiraGetIssue, _: ConnectionInfo, client: Any) -> str:
        return format_issue(await client.get_issue(a.key.upper()))

    async def _jira_search(self, a: JiraSearch, _: ConnectionInfo, client: Any) -> str:
        page = await client.search(a.jql, limit=a.limit, cursor=a.cursor)
        if not page.issues:
            return f"No Jira issues match: {a.jql}"
        total = f" of {page.total}" if page.total is not None else ""
        lines = [f"{len(page.issues)}{total} issues for JQL: {a.jql}"] + [format_issue_line(i) for i in page.issues]
        if page.next_cursor:
            lines.append(f"next_cursor: {page.next_cursor}")
        return "\n".join(lines)

    async def _jira_create(self, a: JiraCreateIssue, _: ConnectionInfo, client: Any) -> str:
        issue = await client.create_issue(a.project, a.summary, a.description, a.issue_type, a.labels)
        return f"Created {issue.key}: {issue.title}\nURL: {issue.url}"

    async def _jira_comment(self, a: JiraAddComment, connection: ConnectionInfo, client: Any) -> str:
        await client.comment(a.key.upper(), a.body)
        return f"Commented on {a.key.upper()}\nURL: {connection.base_url}/browse/{a.key.upper()}"

    # --- Confluence ---

    async def _confluence_search(self, a: ConfluenceSearch, _: ConnectionInfo, client: Any) -> str:
        pages = await client.search(a.cql, limit=a.limit)
        if not pages:
            return f"No Confluence pages match: {a.cql}"
        lines = [f"{len(pages)} pages for CQL: {a.cql}"]
        for page in pages:
            lines.append(f"- {page.title} (id {page.id}) — {page.url}")
            if page.excerpt:
                lines.append(f"  {page.excerpt.strip()[:300]}")
        return "\n".join(lines)

    async def _confluence_get_page(self, a: ConfluenceGetPage, _: ConnectionInfo, client: Any) -> str:
        if a.page_id:
            page = await client.get_page(a.page_id)
        else:
            page = await client.get_page_by_title(a.space, a.title)
        return format_page(page)

    # --- Linear ---

    async def _linear_get_issue(self, a: LinearGetIssue, _: ConnectionInfo, client: Any) -> str:
        return format_issue(await client.get_issue(a.identifier.upper()))

    async def _linear_search(self, a: LinearSearch, _: ConnectionInfo, client: Any) -> str:
        page = await client.search(a.text, limit=a.limit, cursor=a.cursor)
        if not page.issues:
            return f"No Linear issues match: {a.text}"
        lines = [f"{len(page.issues)} Linear issues for: {a.text}"] + [format_issue_line(i) for i in page.issues]
        if page.next_cursor:
            lines.append(f"next_cursor: {page.next_cursor}")
        return "\n".join(lines)

    async def _linear_comment(self, a: LinearAddComment, _: ConnectionInfo, client: Any) -> str:
        comment = await client.comment(a.identifier.upper(), a.body)
        url = getattr(comment, "url", None)
        return f"Commented on {a.identifier.upper()}" + (f"\nURL: {url}" if url else "")

    # --- SCM ---

    async def _scm_get_file(self, a: ScmGetFile, _: ConnectionInfo, client: Any) -> str:
        found = await client.get_file(a.repo, a.path, ref=a.ref, max_bytes=self.max_output_chars)
        cut = " (truncated)" if found.truncated else ""
        numbered = "\n".join(f"{i:>5}  {line}" for i, line in enumerate(found.text.splitlines(), 1))
        return f"URL: {found.url}\n{found.repo}:{found.path} at {found.ref or 'default branch'}{cut}\n{numbered}"

    async def _scm_list_prs(self, a: ScmListPullRequests, _: ConnectionInfo, client: Any) -> str:
        prs = await client.list_pull_requests(a.repo, state=a.state, limit=a.limit)
        if not prs:
            return f"No {a.state} pull requests in {a.repo}."
        return "\n".join(f"- #{pr.number} [{pr.state}] {pr.title} by {pr.author or '?'} — {pr.url}" for pr in prs)

    async def _scm_get_pr(self, a: ScmGetPullRequest, _: ConnectionInfo, client: Any) -> str:
        repo, number = (a.repo, a.number) if a.url is None else parse_pull_request_url(a.url)[1:]
        assert repo is not None and number is not None  # the model validator guarantees one way
        pr = await client.get_pull_request(repo, number)
        diff = await client.get_pull_request_diff(repo, number, max_bytes=DIFF_CHARS * 2) if a.include_diff else None
        return format_pull_request(pr, diff)

    async def _scm_search_code(self, a: ScmSearchCode, _: ConnectionInfo, client: Any) -> str:
        hits = await client.search_code(a.query, repo=a.repo, limit=a.limit)
        if not hits:
            return f"No code matches {a.query!r}."
        lines = []
        for hit in hits:
            lines.append(f"- {hit.repo}:{hit.path} — {hit.url}")
            if hit.fragment:
                lines.append("  " + hit.fragment.strip().replace("\n", "\n  ")[:500])
        return "\n".join(lines)

    async def _scm_list_commits(self, a: ScmListCommits, _: ConnectionInfo, client: Any) -> str:
        commits = await client.list_commits(a.repo, ref=a.ref, path=a.path, since=a.since, until=a.until, limit=a.limit)
        if not commits:
            return f"No commits in {a.repo} for that filter."
        return "\n".join(format_commit(c) for c in commits)


def tool_failure(exc: IntegrationError) -> str:
    """What the model reads when a service call failed: the typed reason first, then what happened."""
    retry = f" Retry after {max(1, round(exc.retry_after))} s." if hasattr(exc, "retry_after") else ""
    return f"ERROR ({exc.reason}): {exc.detail}.{retry}"


def bound(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut at {limit} characters ...]"
