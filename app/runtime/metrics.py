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


def render() -> tuple[bytes, str]:
    """The exposition text for every worker of this service."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
