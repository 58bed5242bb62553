"""Webhook deliveries as each platform sends them: its event headers, its delivery id, its signature scheme.

`delivery(platform, secret)` builds a typical delivery (a pull request opened, an issue created, a mention...);
every part can be overridden to make it wrong in one way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


def hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    platform: str
    headers: dict[str, str]
    body: bytes
    event: str  # as the service names it
    action: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def _encode(body: Any) -> bytes:
    return json.dumps(body).encode()


def delivery(
    platform: str, secret: str, *, body: Any = None, raw: bytes | None = None, delivery_id: str | None = None,
    timestamp: float | None = None,
) -> Delivery:  # fmt: skip
    """A signed delivery of `platform`'s typical event; `raw` replaces the body bytes (signed as given)."""
    ident = delivery_id or str(uuid.uuid4())
    now = time.time() if timestamp is None else timestamp
    if platform == "github":
        data = raw or _encode(body if body is not None else {"action": "opened", "number": 7, "pull_request": {}})
        headers = {
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": ident,
            "X-Hub-Signature-256": "sha256=" + hmac_hex(secret, data),
        }
        return Delivery(platform, headers, data, "pull_request", "opened")
    if platform == "gitlab":
        default = {"object_kind": "merge_request", "object_attributes": {"iid": 3, "action": "open"}}
        data = raw or _encode(body if body is not None else default)
        headers = {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": secret, "X-Gitlab-Event-UUID": ident}
        return Delivery(platform, headers, data, "merge_request", "open")
    if platform == "bitbucket":
        data = raw or _encode(body if body is not None else {"pullrequest": {"id": 5}, "repository": {}})
        headers = {
            "X-Event-Key": "pullrequest:created",
            "X-Request-UUID": ident,
            "X-Hub-Signature": "sha256=" + hmac_hex(secret, data),
        }
        return Delivery(platform, headers, data, "pullrequest:created", "created")
    if platform == "jira":
        default = {"webhookEvent": "jira:issue_created", "issue_event_type_name": "issue_created", "issue": {}}
        data = raw or _encode(body if body is not None else default)
        headers = {"X-Atlassian-Webhook-Identifier": ident, "X-Hub-Signature": "sha256=" + hmac_hex(secret, data)}
        return Delivery(platform, headers, data, "jira:issue_created", "issue_created")
    if platform == "linear":
        default = {"type": "Issue", "action": "create", "data": {"id": "i1"}, "webhookTimestamp": int(now * 1000)}
        data = raw or _encode(body if body is not None else default)
        headers = {"Linear-Delivery": ident, "Linear-Event": "Issue", "Linear-Signature": hmac_hex(secret, data)}
        return Delivery(platform, headers, data, "Issue", "create")
    if platform == "slack":
        default = {"type": "event_callback", "event_id": ident, "event": {"type": "app_mention", "text": "hi"}}
        data = raw or _encode(body if body is not None else default)
        stamp = str(int(now))
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + hmac_hex(secret, b"v0:" + stamp.encode() + b":" + data),
        }
        return Delivery(platform, headers, data, "app_mention", None)
    raise ValueError(platform)


PLATFORMS = ("github", "gitlab", "bitbucket", "jira", "linear", "slack")
