"""What the pull-request review's jobs carry, and the key that makes one job of repeated deliveries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.jobs.interface import Job

KIND = "review.pull_request"
COMMAND_KIND = "review.pr_command"


class PullRequestReviewPayload(BaseModel):
    connection_id: int = Field(ge=1)
    repo: str = Field(min_length=3, max_length=300)
    number: int = Field(ge=1, le=10**9)
    head_sha: str = Field(pattern=r"^[0-9a-f]{7,64}$")
    action: str | None = Field(default=None, max_length=100)
    full: bool = False  # asked for by `/adjutant review`: the whole pull request, even a head reviewed before
    comment_id: str | None = Field(default=None, pattern=r"^[0-9]{1,30}$")  # the command's comment


def idempotency_key(payload: PullRequestReviewPayload) -> str:
    key = f"review:{payload.connection_id}:{payload.repo}#{payload.number}@{payload.head_sha}"
    return f"{key}:command:{payload.comment_id}" if payload.comment_id else key


class CommandPayload(BaseModel):
    connection_id: int = Field(ge=1)
    repo: str = Field(min_length=3, max_length=300)
    number: int = Field(ge=1, le=10**9)
    comment_id: str = Field(pattern=r"^[0-9]{1,30}$")
    author: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=4000)


def command_key(payload: CommandPayload) -> str:
    return f"command:{payload.connection_id}:{payload.repo}#{payload.number}:{payload.comment_id}"


def arrived(job: Job) -> dict[str, Any]:
    """What every webhook job's result records of the delivery: what it was and where it came from."""
    return {
        "recorded": True,
        "platform": job.payload.get("platform"),
        "event": job.payload.get("event"),
        "action": job.payload.get("action"),
        "delivery": job.payload.get("delivery"),
        "connection_id": job.payload.get("connection_id"),
    }
