"""Publishing approved notes through a team connection: a GitHub or GitLab release, a `CHANGELOG.md` pull (or
merge) request, or a Slack message — with, in its thread, a separate notice to the authors of features that
changed no documentation.

Each place is published to once: a second request for the same target, connection and repository or channel
answers the first publication instead of posting again (a retried request must not post twice).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from app.db.models import ReleaseNote
from app.db.wire_types import WireStr
from app.errors import IntegrationNotFound, InvalidRequest
from app.integrations.clients import client_for
from app.integrations.connection import ConnectionInfo
from app.integrations.connections import Connections
from app.releases.changes import ReleaseFacts

Target = Literal["github_release", "gitlab_release", "changelog_pr", "slack"]
TARGET_KINDS: dict[str, tuple[str, ...]] = {
    "github_release": ("github",),
    "gitlab_release": ("gitlab",),
    "changelog_pr": ("github", "gitlab"),
    "slack": ("slack",),
}
CHANGELOG_HEADING = "# Changelog"


class PublishRequest(BaseModel):
    target: Target
    connection: WireStr = Field(min_length=1, max_length=200, description="The team connection to publish through.")
    repo: WireStr | None = Field(
        default=None, min_length=3, max_length=300, description="owner/name or group/project (releases, changelog)."
    )
    channel: WireStr | None = Field(default=None, min_length=1, max_length=81, description="Slack channel (slack).")
    tag: WireStr | None = Field(
        default=None, min_length=1, max_length=200, description="Release tag; default: version."
    )
    base: WireStr = Field(default="main", min_length=1, max_length=200, description="Changelog pull request's base.")
    variant: Literal["internal", "external"] = Field(
        default="external", description="Which notes to publish (releases and changelogs are for users)."
    )
    notify_undocumented: bool = Field(
        default=True, description="slack: also notify the authors of features that changed no documentation."
    )

    @model_validator(mode="after")
    def _complete(self) -> PublishRequest:
        if self.target == "slack" and not self.channel:
            raise ValueError("a slack publication needs channel")
        if self.target != "slack" and not self.repo:
            raise ValueError(f"a {self.target} publication needs repo")
        return self

    def place(self) -> str:
        return self.channel if self.target == "slack" else self.repo or ""


class Publisher:
    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    async def publish(self, note: ReleaseNote, request: PublishRequest) -> tuple[dict[str, Any], bool]:
        """Where the notes now are (an entry for `publications`) and whether this call published them."""
        connection = await self.connections.connection(note.team_id, request.connection)
        if connection.kind not in TARGET_KINDS[request.target]:
            raise InvalidRequest(
                f"{request.target} publishes through a {' or '.join(TARGET_KINDS[request.target])} connection; "
                f"{request.connection!r} is {connection.kind}"
            )
        for entry in note.publications:
            if (entry["target"], entry["connection_id"], entry["place"]) == (
                request.target,
                connection.id,
                request.place(),
            ):
                return entry, False
        text = note.external_md if request.variant == "external" else note.internal_md
        facts = ReleaseFacts.from_json(note.facts)
        client = client_for(connection, self.connections.runtime)
        try:
            found = await self._send(client, connection, note, request, text, facts)
        finally:
            await client.aclose()
        entry = {
            "target": request.target,
            "connection_id": connection.id,
            "connection": connection.name,
            "place": request.place(),
            "variant": request.variant,
            "at": datetime.now(UTC).isoformat(),
            **found,
        }
        return entry, True

    async def _send(
        self,
        client: Any,
        connection: ConnectionInfo,
        note: ReleaseNote,
        request: PublishRequest,
        text: str,
        facts: ReleaseFacts,
    ) -> dict[str, Any]:
        tag = request.tag or note.version
        name = f"{facts.repository} {note.version or 'Unreleased'}"
        if request.target in ("github_release", "gitlab_release"):
            if not tag:
                raise InvalidRequest("these notes name no version: give the release's tag")
            if request.target == "github_release":
                return {"url": await client.create_release(request.repo, tag, name=name, body=text)}
            return {"url": await client.create_release(request.repo, tag, name=name, description=text, ref=note.to_sha)}
        if request.target == "changelog_pr":
            return await self._changelog(client, connection, note, request, text, name)
        return await self._slack(client, request, text, facts, name)

    async def _changelog(
        self, client: Any, connection: ConnectionInfo, note: ReleaseNote, request: PublishRequest, text: str, name: str
    ) -> dict[str, Any]:
        repo = request.repo or ""
        branch = f"adjutant/release-notes-{note.id}"
        current = await _file_text(client, repo, "CHANGELOG.md", request.base)
        updated = changelog_with(current, text)
        message = f"docs(changelog): {name}"
        body = f"Release notes for {name}, approved in Adjutant (release notes {note.id})."
        if connection.kind == "github":
            await client.create_branch(repo, branch, await client.branch_head(repo, request.base))
            await client.put_file(repo, "CHANGELOG.md", updated, branch=branch, message=message)
            pull = await client.create_pull_request(repo, head=branch, base=request.base, title=message, body=body)
        else:
            await client.create_branch(repo, branch, request.base)
            await client.put_file(repo, "CHANGELOG.md", updated, branch=branch, message=message)
            pull = await client.create_merge_request(repo, source=branch, target=request.base, title=message, body=body)
        return {"url": pull.url, "number": pull.number, "branch": branch}

    async def _slack(
        self, client: Any, request: PublishRequest, text: str, facts: ReleaseFacts, name: str
    ) -> dict[str, Any]:
        channel = request.channel or ""
        posted = await client.post_message(channel, text[:39_000])
        found: dict[str, Any] = {"url": posted.url, "ts": posted.id}
        undocumented = facts.undocumented
        if request.notify_undocumented and undocumented:
            lines = [f"{name}: these features changed no documentation — could their authors add some?"]
            lines += [f"• {c.description} ({c.ref}) — {', '.join(p.name for p in c.authors)}" for c in undocumented]
            notice = await client.post_message(channel, "\n".join(lines), thread_ts=posted.id)
            found["undocumented_notice"] = notice.id
        return found


async def _file_text(client: Any, repo: str, path: str, ref: str) -> str:
    try:
        return (await client.get_file(repo, path, ref=ref, max_bytes=5_000_000)).text
    except IntegrationNotFound:  # no changelog yet
        return ""


def changelog_with(current: str, notes: str) -> str:
    """The changelog with `notes` as its newest entry, under its `# Changelog` heading (added when missing); the
    notes' own top heading becomes a second-level one."""
    entry = notes.strip()
    if entry.startswith("# "):
        entry = "#" + entry
    entry = "\n".join(
        ("#" + line) if line.startswith("## ") and i else line for i, line in enumerate(entry.splitlines())
    )
    body = current.strip()
    if body.startswith(CHANGELOG_HEADING):
        rest = body[len(CHANGELOG_HEADING) :].strip()
        return f"{CHANGELOG_HEADING}\n\n{entry}\n" + (f"\n{rest}\n" if rest else "")
    return f"{CHANGELOG_HEADING}\n\n{entry}\n" + (f"\n{body}\n" if body else "")
