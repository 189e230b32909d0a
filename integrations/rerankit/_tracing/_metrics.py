"""The instruments of :mod:`rerankit._tracing._names`, recorded once for every sink: OpenTelemetry's
meter (:class:`OpenTelemetryMetrics`), and ``rerankit serve``'s Prometheus registry (each request's
:class:`MetricsSink`, in :mod:`rerankit.serve._metrics`).

What a call, a retry or a breaker's change adds to which instrument is written here, once
(:func:`record_call`, :func:`record_retry`, :func:`record_transition`); a sink only adds to a
counter or records in a histogram. :class:`OpenTelemetryMetrics` is made only when
``opentelemetry`` is installed (it imports it when made); the rest imports nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from rerankit._tracing import _names as names
from rerankit._tracing._names import Instrument


class MetricsSink(Protocol):
    """Where the instruments are recorded: each attribute of ``instrument.attributes`` is in ``attributes``."""

    def add(self, instrument: Instrument, value: float, attributes: Mapping[str, str]) -> None:
        """Add ``value`` to the counter ``instrument``."""

    def record(self, instrument: Instrument, value: float, attributes: Mapping[str, str]) -> None:
        """Record ``value`` in the histogram ``instrument``."""


def record_call(
    sink: MetricsSink,
    operation: str,
    backend: str,
    model: str,
    outcome: str,
    seconds: float,
    pairs: int,
    hits: int,
    misses: int,
) -> None:
    """One call ended: ``outcome`` is ``"ok"`` or its error's type; ``hits``/``misses`` are the
    documents the score cache answered and did not (0 and 0 without a cache)."""
    call = {names.OPERATION: operation, names.BACKEND: backend, names.MODEL: model, names.OUTCOME: outcome}
    sink.add(names.CALLS, 1, call)
    sink.record(names.CALL_DURATION, seconds, call)
    scored = {names.BACKEND: backend}
    if pairs:
        sink.add(names.PAIRS, pairs, scored)
    if hits or misses:
        sink.add(names.CACHE_HIT_COUNT, hits, scored)
        sink.add(names.CACHE_MISS_COUNT, misses, scored)


def record_retry(sink: MetricsSink, backend: str, reason: str) -> None:
    """An HTTP attempt retried one that failed for ``reason``."""
    sink.add(names.RETRIES, 1, {names.BACKEND: backend, names.REASON: reason})


def record_transition(sink: MetricsSink, breaker: str, state: str) -> None:
    """The circuit breaker ``breaker`` entered ``state``."""
    sink.add(names.BREAKER_TRANSITIONS, 1, {names.BREAKER: breaker, names.STATE: state})


class CacheRatio:
    """The documents one sink saw found and looked up in score caches; their ratio (0 before any)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        self.lookups = 0

    def count(self, instrument: Instrument, value: float) -> None:
        """Take in what was added to ``instrument``, if it is the cache's hits or misses."""
        if instrument is names.CACHE_HIT_COUNT or instrument is names.CACHE_MISS_COUNT:
            with self._lock:
                self.hits += int(value) if instrument is names.CACHE_HIT_COUNT else 0
                self.lookups += int(value)

    def ratio(self) -> float:
        with self._lock:
            return self.hits / self.lookups if self.lookups else 0.0


class OpenTelemetryMetrics:
    """The instruments on the application's meter provider (none set: OpenTelemetry's no-op meter)."""

    def __init__(self, version: str, meter_provider: Any = None) -> None:
        from opentelemetry import metrics
        from opentelemetry.metrics import CallbackOptions, Observation

        meter = metrics.get_meter("rerankit", version, meter_provider=meter_provider)
        self.cache = CacheRatio()

        def observe_ratio(options: CallbackOptions) -> Any:
            return [Observation(self.cache.ratio())] if self.cache.lookups else []

        self.instruments: dict[str, Any] = {}
        for instrument in names.INSTRUMENTS:
            name, unit, description = instrument.name, instrument.unit, instrument.description
            if instrument.kind == "counter":
                self.instruments[name] = meter.create_counter(name, unit, description)
            elif instrument.kind == "histogram":
                self.instruments[name] = meter.create_histogram(
                    name, unit, description, explicit_bucket_boundaries_advisory=names.LATENCY_BUCKETS
                )
            else:  # the cache hit ratio, the one gauge
                meter.create_observable_gauge(name, [observe_ratio], unit, description)

    def add(self, instrument: Instrument, value: float, attributes: Mapping[str, str]) -> None:
        self.instruments[instrument.name].add(value, attributes)
        self.cache.count(instrument, value)

    def record(self, instrument: Instrument, value: float, attributes: Mapping[str, str]) -> None:
        self.instruments[instrument.name].record(value, attributes)


__all__ = [
    "CacheRatio",
    "MetricsSink",
    "OpenTelemetryMetrics",
    "record_call",
    "record_retry",
    "record_transition",
]
