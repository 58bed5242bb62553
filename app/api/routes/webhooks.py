"""Webhook intake: POST /v1/webhooks/{platform}/{hook_id}, where the hook id names a team's connection.

The body is read up to `jobs.webhook_max_bytes` and no further. A delivery is verified, then queued as a job,
then answered 202: the work happens in a worker.
"""

from __future__ import annotations

from pydantic import ConfigDict
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from app.api.envelopes import success
from app.api.openapi import Described, Header, documented
from app.api.webhooks.intake import WebhookIntake
from app.errors import WebhookTooLarge
from app.jobs.webhook_events import PLATFORMS
from app.runtime import metrics

bp = Blueprint("webhooks", url_prefix="/v1")
SIGNATURE_HEADERS = tuple(
    Header(name, description, required=False)
    for name, description in (
        ("X-Hub-Signature-256", "GitHub: sha256=<HMAC-SHA256 of the body>."),
        ("X-Hub-Signature", "Bitbucket Cloud and Jira: sha256=<HMAC-SHA256 of the body>."),
        ("X-Gitlab-Token", "GitLab: the webhook secret."),
        ("Linear-Signature", "Linear: the HMAC-SHA256 of the body, in hex."),
        ("X-Slack-Signature", "Slack: v0=<HMAC-SHA256 of v0:timestamp:body>."),
        ("X-Slack-Request-Timestamp", "Slack: when the delivery was signed (within 5 minutes)."),
    )
)


class WebhookDelivery(Described):
    """The platform's delivery as it sends it: a JSON object (Slack's interactions and slash commands: a form).
    Its fields are the platform's; it is read only once its signature holds."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class WebhookAccepted(Described):
    accepted: bool
    event: str
    job_id: int | None


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebhookTooLarge(f"webhook bodies are limited to {limit} bytes (jobs.webhook_max_bytes)")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise WebhookTooLarge(f"webhook bodies are limited to {limit} bytes (jobs.webhook_max_bytes)")
        chunks.append(chunk)


@bp.post("/webhooks/<platform>/<hook_id>", ctx_auth="none", ctx_client="none", stream=True)
@documented(
    summary="Receive a webhook delivery",
    description="platform is one of github, gitlab, bitbucket, jira, linear, slack; hook_id comes from the team's "
    "connection. The delivery must carry the platform's signature made with the connection's webhook secret (401 "
    "otherwise); a delivery id seen within 24 h answers 409; an event type no workflow takes answers 202 with "
    "accepted=false. Slack's url_verification is answered with its challenge.",
    body=WebhookDelivery,
    # The platform's bytes, checked against its signature before anything reads them: JSON from most, a form
    # from Slack's interactions; so not this API's strict JSON body.
    body_media="application/octet-stream",
    response=WebhookAccepted,
    status=202,
    errors=[400, 401, 404, 409, 413, 503],
    headers=SIGNATURE_HEADERS,
    rejects_invalid=False,
    tag="webhooks",
)
async def receive_webhook(request: Request, platform: str, hook_id: str) -> HTTPResponse:
    try:
        body = await _bounded_body(request, request.app.ctx.settings.jobs.webhook_max_bytes)
    except WebhookTooLarge:
        if platform in PLATFORMS:
            metrics.WEBHOOKS.labels(platform, "too_large").inc()
        raise
    intake: WebhookIntake = request.app.ctx.webhooks
    answer = await intake.receive(platform, hook_id, request.headers, body)
    if not answer.enveloped:
        return json(answer.body, status=answer.status)
    return success(answer.body, status=answer.status)
