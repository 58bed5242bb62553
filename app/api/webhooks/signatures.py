"""Each platform's webhook signature, checked against the connection's secret in constant time.

GitHub, Bitbucket Cloud and Jira Cloud send `sha256=<hex HMAC-SHA256 of the body>` (X-Hub-Signature-256 for
GitHub, X-Hub-Signature for the other two); Linear sends the bare hex HMAC in Linear-Signature; GitLab sends
the secret itself in X-Gitlab-Token; Slack signs `v0:<X-Slack-Request-Timestamp>:<body>` into X-Slack-Signature
(`v0=<hex>`), and a timestamp more than five minutes off is refused, as Slack asks. Linear's own freshness
check (the body's webhookTimestamp within a minute) is in `app.api.webhooks.deliveries`, as it needs the body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

from app.errors import WebhookSignatureInvalid

SLACK_WINDOW_S = 300


def _hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.strip().encode(), expected.encode())


def _sha256_header(header: str) -> Callable[[Mapping[str, str], bytes, str, float], bool]:
    def check(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> bool:
        given = headers.get(header)
        # Hex digits are compared lowercased: some senders write them in capitals.
        return _same(given.lower() if given else None, "sha256=" + _hmac_hex(secret, body))

    return check


def _gitlab(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> bool:
    return _same(headers.get("x-gitlab-token"), secret)


def _linear(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> bool:
    given = headers.get("linear-signature")
    return _same(given.lower() if given else None, _hmac_hex(secret, body))


def _slack(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> bool:
    timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > SLACK_WINDOW_S:
        return False
    expected = "v0=" + _hmac_hex(secret, b"v0:" + timestamp.encode() + b":" + body)
    return _same(headers.get("x-slack-signature"), expected)


SCHEMES: dict[str, Callable[[Mapping[str, str], bytes, str, float], bool]] = {
    "github": _sha256_header("x-hub-signature-256"),
    "gitlab": _gitlab,
    "bitbucket": _sha256_header("x-hub-signature"),
    "jira": _sha256_header("x-hub-signature"),
    "linear": _linear,
    "slack": _slack,
}
SIGNATURE_HEADERS = {
    "github": "X-Hub-Signature-256",
    "gitlab": "X-Gitlab-Token",
    "bitbucket": "X-Hub-Signature",
    "jira": "X-Hub-Signature",
    "linear": "Linear-Signature",
    "slack": "X-Slack-Signature",
}


def verify(platform: str, headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
    """Raise WebhookSignatureInvalid unless the delivery is signed with `secret` as `platform` signs."""
    if not SCHEMES[platform](headers, body, secret, now):
        raise WebhookSignatureInvalid(
            f"the delivery is not signed with this connection's secret ({SIGNATURE_HEADERS[platform]})"
        )
