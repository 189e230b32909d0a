"""The server's Prometheus metrics (``GET /metrics``), in a registry of its own per app.

Besides the server's own (requests, errors, latency, queue, pairs/s), the page shows the core's
instruments (:data:`rerankit._tracing._names.INSTRUMENTS`: calls, call latency, pairs, retries,
breaker transitions, cache hits) under the names OpenTelemetry's Prometheus exporters give them, so
a client process that exports its OpenTelemetry metrics reads the same (docs/observability.md).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from rerankit._tracing import _names as names
from rerankit._tracing._metrics import CacheRatio
from rerankit._tracing._names import Instrument

#: Request latency buckets, in seconds: from a few short pairs on a GPU to long lists on a CPU.
LATENCY_BUCKETS = names.LATENCY_BUCKETS
#: The window ``rerankit_serve_pairs_per_second`` averages over.
PAIRS_RATE_WINDOW_S = 60.0


class _RateWindow:
    """Pairs scored per second over the last ``window`` seconds (since start, while younger)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.started = time.monotonic()
        self._events: deque[tuple[float, int]] = deque()
        self._total = 0

    def add(self, count: int) -> None:
        now = time.monotonic()
        self._events.append((now, count))
        self._total += count
        self._expire(now)

    def rate(self) -> float:
        now = time.monotonic()
        self._expire(now)
        span = min(self.window, now - self.started)
        return self._total / span if span > 0 else 0.0

    def _expire(self, now: float) -> None:
        while self._events and self._events[0][0] < now - self.window:
            self._total -= self._events.popleft()[1]


class ServeMetrics:
    """Requests, errors, latency, queue depth and pairs/s of one server.

    A registry per app (not prometheus-client's global one), so several servers in one process
    (tests, notebooks) keep their counts apart.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_capacity: int) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rerankit_serve_requests",
            "Rerank requests answered, by route and HTTP status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "rerankit_serve_errors",
            "Rerank requests answered with an error (4xx or 5xx), by route and HTTP status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rerankit_serve_request_duration_seconds",
            "Time from receiving a rerank request to answering it, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "rerankit_serve_queue_depth",
            "Requests admitted and not yet answered (being scored or waiting for their turn).",
            registry=self.registry,
        )
        self.queued_pairs = Gauge(
            "rerankit_serve_queued_pairs",
            "(query, document) pairs admitted and not yet answered: the work admission counts.",
            registry=self.registry,
        )
        self.throughput = Gauge(
            "rerankit_serve_throughput_pairs_per_second",
            "Pairs scored per second of busy time, recently: what admission estimates waits from "
            "(0 until something was scored).",
            registry=self.registry,
        )
        self.estimated_wait = Gauge(
            "rerankit_serve_estimated_wait_seconds",
            "How long the work admitted now would take at that throughput (0 until measured).",
            registry=self.registry,
        )
        self.queue_capacity = Gauge(
            "rerankit_serve_queue_capacity",
            "Requests that may be admitted at once; more are answered 429.",
            registry=self.registry,
        )
        self.queue_capacity.set(queue_capacity)
        self.documents = Counter(
            "rerankit_serve_documents", "Documents received in answered requests.", registry=self.registry
        )
        self.pairs = Counter(
            "rerankit_serve_pairs_scored",
            "(query, document) pairs scored (identical documents in a request count once).",
            registry=self.registry,
        )
        self._pairs_window = _RateWindow(PAIRS_RATE_WINDOW_S)
        self.pairs_per_second = Gauge(
            "rerankit_serve_pairs_per_second",
            f"Pairs scored per second over the last {PAIRS_RATE_WINDOW_S:.0f} s.",
            registry=self.registry,
        )
        self.pairs_per_second.set_function(self._pairs_window.rate)
        self.ready = Gauge(
            "rerankit_serve_ready",
            "1 once the model is loaded and requests are served.",
            registry=self.registry,
        )
        #: The core's instruments, fed by the calls this server's requests make.
        self.core = CoreMetrics(self.registry)

    def watch(self, admission: Any) -> None:
        """Read the queue gauges from ``admission`` (a :class:`~rerankit.serve._admission.Admission`)
        when scraped."""
        self.queue_depth.set_function(lambda: admission.depth)
        self.queued_pairs.set_function(lambda: admission.queued_pairs)
        self.throughput.set_function(lambda: admission.throughput.rate or 0.0)
        self.estimated_wait.set_function(lambda: admission.estimated_wait() or 0.0)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, str(status)).inc()
        if status >= 400:
            self.errors.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def scored(self, documents: int, pairs: int) -> None:
        """Count the documents and pairs of one scored request."""
        self.documents.inc(documents)
        self.pairs.inc(pairs)
        self._pairs_window.add(pairs)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class CoreMetrics:
    """The core's instruments on a Prometheus registry: the :class:`~rerankit._tracing.MetricsSink`
    each request of this server hands to the calls it makes."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.cache = CacheRatio()
        self.metrics: dict[str, Any] = {}
        for instrument in names.INSTRUMENTS:
            name, description = instrument.prometheus_name, instrument.description
            # the attribute keys as OpenTelemetry's Prometheus exporters write them
            labels = [key.replace(".", "_") for key in instrument.attributes]
            if instrument.kind == "counter":
                self.metrics[instrument.name] = Counter(name, description, labels, registry=registry)
            elif instrument.kind == "histogram":
                self.metrics[instrument.name] = Histogram(
                    name, description, labels, buckets=names.LATENCY_BUCKETS, registry=registry
                )
            else:  # the cache hit ratio, the one gauge
                Gauge(name, description, registry=registry).set_function(self.cache.ratio)

    def add(self, instrument: Instrument, value: float, attributes: Mapping[str, str]) -> None:
        self._metric(instrument, attributes).inc(value)
        self.cache.count(instrument, value)

    def record(self, instrument: Instrument, value: float, attributes: Mapping[str, str]) -> None:
        self._metric(instrument, attributes).observe(value)

    def _metric(self, instrument: Instrument, attributes: Mapping[str, str]) -> Any:
        return self.metrics[instrument.name].labels(*(attributes[key] for key in instrument.attributes))
