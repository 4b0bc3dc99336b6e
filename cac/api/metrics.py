"""Prometheus metrics of one app. Labels are route templates, statuses, actions: never text."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters and histograms in their own registry (one per app, so tests can build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cac_http_requests",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cac_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.notes_coded = Counter(
            "cac_notes_coded",
            "Notes coded (new notes and new versions), by setting and input format.",
            ["setting", "source"],
            registry=self.registry,
        )
        self.coding_seconds = Histogram(
            "cac_coding_duration_seconds",
            "Time spent in the coding pipeline per note.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "cac_decisions",
            "Coder decisions recorded, by action (accept, reject, replace, add).",
            ["action"],
            registry=self.registry,
        )
        self.drg_shifts = Counter(
            "cac_impact_drg_shifts",
            "Coder decisions that changed a note's MS-DRG, by the direction of the relative "
            "weight (up, down, same).",
            ["direction"],
            registry=self.registry,
        )
        self.hccs_captured = Counter(
            "cac_impact_hccs_captured",
            "CMS-HCC V28 categories a coder decision added to a note (after hierarchies).",
            registry=self.registry,
        )
        self.hccs_removed = Counter(
            "cac_impact_hccs_removed",
            "CMS-HCC V28 categories a coder decision took off a note (after hierarchies).",
            registry=self.registry,
        )
        self.model_reloads = Counter(
            "cac_model_reloads",
            "Model reloads (POST /v1/admin/reload, SIGHUP), by outcome: success, failure (the "
            "previous models kept serving), busy (another load was running).",
            ["outcome"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
