"""GitHub's conventions, apart from the calls: where its API lives, the headers and media types it speaks, how
it signals rate limits, why it refused, and the names and sizes it accepts (checked before a call is sent, so
bad input costs no request and gets a clear error)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import ValidationError

from app.errors import IntegrationRejected
from app.integrations.types import ReviewCommentDraft

SERVICE = "github"
CLOUD_API = "https://api.github.com"
ENTERPRISE_PREFIX = "/api/v3"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
DIFF_MEDIA = "application/vnd.github.diff"
RAW_MEDIA = "application/vnd.github.raw+json"
TEXT_MATCH_MEDIA = "application/vnd.github.text-match+json"
SECONDARY_LIMIT_S = 60.0  # GitHub: without retry-after, wait at least a minute after a secondary limit
MAX_BODY_CHARS = 65_536  # GitHub's own limit for a comment or review body
REVIEW_EVENTS = ("COMMENT", "APPROVE", "REQUEST_CHANGES")
REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_.-]{1,100}$")
SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def api_root(base_url: str) -> str:
    """The REST API root for a connection's base URL: `https://api.github.com` and data-residency hosts
    (`https://api.<name>.ghe.com`) as they are, `https://github.com` as the cloud API, and any other URL as a
    GitHub Enterprise Server host whose API is under `/api/v3` (added unless the URL already ends with it)."""
    url = base_url.rstrip("/")
    host = (urlsplit(url).hostname or "").lower()
    if host == "github.com":
        return CLOUD_API
    if host == "api.github.com" or (host.startswith("api.") and host.endswith(".ghe.com")):
        return url
    return url if url.endswith(ENTERPRISE_PREFIX) else url + ENTERPRISE_PREFIX


def web_root(api_url: str) -> str:
    """Where people open the pages of the repositories the API at `api_url` serves."""
    parts = urlsplit(api_url)
    host = (parts.hostname or "").lower()
    if host == "api.github.com":
        return "https://github.com"
    if host.startswith("api.") and host.endswith(".ghe.com"):
        return f"{parts.scheme}://{parts.netloc[4:]}"
    return api_url.removesuffix(ENTERPRISE_PREFIX)


def rate_pause(response: httpx.Response) -> float | None:
    """Seconds to pause the connection for a 403/429 that is a rate limit; None for any other answer.

    Primary limit: `x-ratelimit-remaining: 0`, wait for `x-ratelimit-reset`. Secondary limit: the message says
    so (older servers say "abuse detection"), wait `retry-after` or a minute. A 403 without either signal is a
    missing permission and is left to the default mapping (IntegrationAuthFailed)."""
    if response.status_code not in (403, 429):
        return None
    retry_after = _seconds(response.headers.get("retry-after"))
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = _seconds(response.headers.get("x-ratelimit-reset"))
        until_reset = max(1.0, reset - time.time()) if reset is not None else SECONDARY_LIMIT_S
        return max(until_reset, retry_after or 0.0)
    message = _message(response).lower()
    if "secondary rate limit" in message or "abuse" in message or response.status_code == 429:
        return retry_after if retry_after is not None else SECONDARY_LIMIT_S
    return None


def refusal_detail(response: httpx.Response) -> str:
    """GitHub's reason for a 4xx: its message and the first `errors` entries (a 422's `message` alone is just
    "Validation Failed"), short."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    parts = [str(body.get("message") or f"HTTP {response.status_code}")]
    for error in (body.get("errors") or [])[:3]:
        if isinstance(error, dict):
            error = error.get("message") or " ".join(str(error[k]) for k in ("field", "code") if error.get(k))
        if error:
            parts.append(str(error))
    return "; ".join(parts)[:300]


# --- what GitHub accepts ----------------------------------------------------------------------------------------


def check_repo(repo: str | None) -> str:
    if not repo or not REPO.match(repo) or any(part in (".", "..") for part in repo.split("/")):
        raise IntegrationRejected("github repositories are named owner/name", service=SERVICE)
    return repo


def quote_path(path: str) -> str:
    """A file path quoted for the URL. Dot segments are refused: they would climb out of the repository's URL
    (`contents/../../../user`) once the URL is normalised."""
    parts = (path or "").strip("/").split("/")
    if not path or len(path) > 4096 or any(part in ("", ".", "..") for part in parts):
        raise IntegrationRejected(f"github: {path!r} is not a file path in a repository", service=SERVICE)
    return quote("/".join(parts), safe="/")


def check_ref(ref: str) -> str:
    """A branch, tag or SHA, unchanged; git's own rules already refuse `..`, components starting with a dot,
    spaces and control characters, so nothing valid is lost."""
    parts = ref.split("/")
    if (
        not ref
        or len(ref) > 255
        or ".." in ref
        or " " in ref
        or not ref.isprintable()
        or any(not part or part.startswith(".") for part in parts)
    ):
        raise IntegrationRejected(f"github: {ref!r} is not a branch, tag or commit", service=SERVICE)
    return ref


def quote_ref(ref: str) -> str:
    """A ref for a URL path (`compare/{base}...{head}`)."""
    return quote(check_ref(ref), safe="/")


def check_body(body: str, *, required: bool) -> None:
    if len(body) > MAX_BODY_CHARS or (required and not body.strip()):
        raise IntegrationRejected(f"github comments are 1 to {MAX_BODY_CHARS} characters", service=SERVICE)


def check_bound(value: int, maximum: int, what: str, *, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise IntegrationRejected(f"github: {what} must be between {minimum} and {maximum}", service=SERVICE)


def timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:  # a naive time is taken as UTC, as GitHub reads its own
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def review_draft(index: int, comment: ReviewCommentDraft | Mapping[str, Any]) -> ReviewCommentDraft:
    try:
        return ReviewCommentDraft.model_validate(comment)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "comment"
        raise IntegrationRejected(
            f"github review comment {index} is invalid: {where}: {first.get('msg')}", service=SERVICE
        ) from None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message") or "") if isinstance(body, dict) else ""
