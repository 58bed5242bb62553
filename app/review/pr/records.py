"""Pull-request reviews as a team sees them: its review runs (newest first), one run with its findings, what
was posted and what was dropped and why, the audit trail, and each connection's permission to approve.
Another team's review or connection answers exactly like one that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.models import AuditEvent, PrReview, PrReviewComment, ReviewConnectionSettings
from app.db.ownership import parse_id
from app.db.repositories import audit
from app.db.repositories import integrations as connections_store
from app.db.repositories import pr_reviews as store
from app.errors import ConnectionNotFound, ReviewNotFound
from app.integrations.connection import SCM_KINDS
from app.integrations.connections import NAME

PERMISSIONS = ("may_approve", "may_request_changes", "commands_from")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe_run(run: PrReview) -> dict[str, Any]:
    pull = run.pull
    return {
        "id": run.id,
        "platform": pull.connection.kind,
        "connection": pull.connection.public_id,
        "repo": pull.repo,
        "number": pull.number,
        "title": pull.title,
        "url": pull.url,
        "head_sha": run.head_sha,
        "base_sha": run.base_sha,
        "incremental": run.incremental,
        "trigger": run.trigger,
        "status": run.status,
        "reason": run.reason,
        "counts": run.counts or {},
        "job_id": run.job_id,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "duration_ms": run.duration_ms,
    }


def describe_comment(comment: PrReviewComment) -> dict[str, Any]:
    return {
        "fingerprint": comment.fingerprint,
        "path": comment.path,
        "line": comment.line,
        "end_line": comment.end_line,
        "severity": comment.severity,
        "category": comment.category,
        "title": comment.title,
        "state": comment.state,
        "state_reason": comment.state_reason,
        "platform_id": comment.platform_id,
        "url": comment.url,
    }


async def team_runs(
    team_id: int, *, limit: int, before_id: int | None, repo: str | None
) -> tuple[list[dict[str, Any]], int | None]:
    runs, next_before = await store.team_runs(team_id, limit=limit, before_id=before_id, repo=repo)
    return [describe_run(run) for run in runs], next_before


async def team_run(team_id: int, raw_id: Any) -> dict[str, Any]:
    """One run with everything it found and did."""
    run_id = parse_id(raw_id)
    run = None if run_id is None else await store.team_run(team_id, run_id)
    if run is None:
        raise ReviewNotFound("review not found")
    comments = await store.run_comments(run.id)
    return describe_run(run) | {
        "findings": run.findings or [],
        "dropped": run.dropped or [],
        "omitted": run.omitted or [],
        "files_reviewed": run.files_reviewed or [],
        "comments": [describe_comment(c) for c in comments],
        "labels": run.labels or [],
        "approval": {"decision": run.approval, "done": run.approval_done, "refused": run.approval_refused},
        "summary_comment_id": run.pull.summary_comment_id,
    }


def describe_event(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "actor_type": event.actor_type,
        "actor": event.actor_name,
        "action": event.action,
        "target_type": event.target_type,
        "target": event.target,
        "reason": event.reason,
        "details": event.details or {},
        "created_at": _time(event.created_at),
    }


async def team_audit(
    team_id: int, *, limit: int, before_id: int | None, action: str | None
) -> tuple[list[dict[str, Any]], int | None]:
    events, next_before = await audit.team_events(team_id, limit=limit, before_id=before_id, action=action)
    return [describe_event(event) for event in events], next_before


def describe_permissions(connection: str, row: ReviewConnectionSettings | None) -> dict[str, Any]:
    return {
        "connection": connection,
        "may_approve": bool(row and row.may_approve),
        "may_request_changes": bool(row and row.may_request_changes),
        "commands_from": row.commands_from if row else "author",
        "updated_at": _time(row.updated_at) if row else None,
    }


async def connection_permissions(team_id: int, public_id: str) -> dict[str, Any]:
    row = await _scm_connection(team_id, public_id)
    return describe_permissions(row.public_id, await store.connection_settings(row.id))


async def set_connection_permissions(
    team_id: int,
    public_id: str,
    *,
    may_approve: bool,
    may_request_changes: bool,
    commands_from: str | None,
    user_id: int,
    user_name: str,
) -> dict[str, Any]:
    """Store the permissions and audit who changed them from what."""
    row = await _scm_connection(team_id, public_id)
    before = describe_permissions(row.public_id, await store.connection_settings(row.id))
    saved = await store.set_connection_settings(
        team_id,
        row.id,
        may_approve=may_approve,
        may_request_changes=may_request_changes,
        user_id=user_id,
        commands_from=commands_from,
    )
    after = describe_permissions(row.public_id, saved)
    await audit.record(
        team_id,
        actor_type="user",
        actor_user_id=user_id,
        actor_name=user_name,
        action="settings.changed",
        target_type="connection",
        target=f"{row.kind} connection {row.name} ({row.public_id})",
        reason="permissions of the pull-request review",
        details={"before": {k: before[k] for k in PERMISSIONS}, "after": {k: after[k] for k in PERMISSIONS}},
    )
    return after


async def _scm_connection(team_id: int, public_id: str) -> Any:
    # Only a reference that can be an id or a name reaches a query (the columns' lengths and characters).
    row = await connections_store.owned(team_id, public_id) if NAME.fullmatch(public_id or "") else None
    if row is None or row.kind not in SCM_KINDS:
        raise ConnectionNotFound("no such connection")
    return row
