"""Prometheus metrics. With several workers, prometheus-client's multiprocess mode aggregates them; the
`serve` command points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the workers start."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter("adjutant_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "adjutant_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_IN_PROGRESS = Gauge(
    "adjutant_http_requests_in_progress", "HTTP requests being handled.", multiprocess_mode="livesum"
)
# A socket never passes the response middleware that ends an HTTP request, so it is counted apart.
WEBSOCKETS_OPEN = Gauge("adjutant_websockets_open", "Chat sockets open.", multiprocess_mode="livesum")
AUTH_FAILURES = Counter("adjutant_auth_failures_total", "Rejected bearer tokens, by reason.", ["reason"])
TOKENS_ROTATED = Counter("adjutant_tokens_rotated_total", "Responses that carried a replacement token.")

# Jobs. The gauges are read from the job records when /metrics is scraped (any process answers the same), the
# counters and histograms are kept by the process that runs the job (`adjutant worker` serves its own).
JOBS_ENQUEUED = Counter("adjutant_jobs_enqueued_total", "Jobs created, by kind.", ["kind"])
JOB_WAIT = Histogram(
    "adjutant_job_wait_seconds",
    "From a job's hand-over to the transport to the start of its attempt.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_DURATION = Histogram(
    "adjutant_job_duration_seconds",
    "Run time of one attempt, by kind and outcome (succeeded, failed, dead).",
    ["kind", "outcome"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800),
)
JOB_FAILURES = Counter("adjutant_job_failures_total", "Failed attempts, by kind.", ["kind"])
JOBS_DIED = Counter("adjutant_jobs_died_total", "Jobs given up (DEAD), by kind.", ["kind"])
JOBS_QUEUE_DEPTH = Gauge(
    "adjutant_jobs_queue_depth",
    "Jobs waiting to run (QUEUED, or FAILED and waiting for their retry), by kind.",
    ["kind"],
    multiprocess_mode="mostrecent",
)
JOBS_RUNNING = Gauge("adjutant_jobs_running", "Jobs running, by kind.", ["kind"], multiprocess_mode="mostrecent")
JOBS_DEAD_LETTERS = Gauge(
    "adjutant_jobs_dead_letters", "DEAD jobs (the dead letters), by kind.", ["kind"], multiprocess_mode="mostrecent"
)
WEBHOOKS = Counter(
    "adjutant_webhooks_total",
    "Webhook deliveries, by platform and outcome (accepted, ignored, bad_signature, replayed, malformed, "
    "too_large, unknown_hook, unavailable).",
    ["platform", "outcome"],
)
WEBHOOK_EVENTS_IGNORED = Counter(
    "adjutant_webhook_events_ignored_total",
    "Signed deliveries of event types no workflow takes.",
    ["platform", "event"],
)


def render() -> tuple[bytes, str]:
    """The exposition text for every worker of this service."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
