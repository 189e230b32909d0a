"""rerankit's spans and instruments recorded by the OpenTelemetry SDK in memory, and the span tree of
the call docs/observability.md draws, on loopback servers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import rerankit._tracing
from rerankit import Reranker
from rerankit._tracing._spans import OpenTelemetry
from rerankit.testing.servers import RerankServer
from tests.loopback import SPECS

KEY = "tracing-test-key-7f3a9c"
QUERY = "what does the warranty cover"
#: A document longer than the windows (``max_document_tokens=64``): cut into several.
LONG = " ".join(
    f"Clause {n}: the warranty covers parts and labour for defects in year {n}." for n in range(12)
)
CACHED = "The warranty covers manufacturing defects for two years."
FRESH = "Paris is the capital of France."
DOCUMENTS = [CACHED, FRESH, LONG]


@dataclass
class Telemetry:
    """What rerankit recorded: finished spans and metrics, from providers of the test's own."""

    tracer_provider: TracerProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    #: The same metrics as OpenTelemetry's Prometheus exporter shows them.
    prometheus: CollectorRegistry

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def clear(self) -> None:
        self.exporter.clear()

    def roots(self, name_prefix: str = "") -> list[ReadableSpan]:
        ids = {span.context.span_id for span in self.spans()}
        return [
            span
            for span in self.spans()
            if (span.parent is None or span.parent.span_id not in ids) and span.name.startswith(name_prefix)
        ]

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        found = [s for s in self.spans() if s.parent is not None and s.parent.span_id == span.context.span_id]
        return sorted(found, key=lambda s: s.start_time)

    def tree(self, span: ReadableSpan, keys: tuple[str, ...] = ()) -> tuple[Any, ...]:
        """``span`` and its descendants as nested (name, status, {key: value}, [children]) tuples,
        children by start time, with the attributes among ``keys`` that the span has."""
        attributes = {key: span.attributes[key] for key in keys if key in span.attributes}
        return (
            span.name,
            span.status.status_code.name,
            attributes,
            [self.tree(child, keys) for child in self.children(span)],
        )

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points, as collected now."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    """rerankit traced on an SDK tracer and meter of this test's own (the global providers are left
    alone, so other tests keep OpenTelemetry's no-op ones)."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader, prometheus = InMemoryMetricReader(), CollectorRegistry()
    meter_provider = MeterProvider(metric_readers=[reader, PrometheusMetricReader(registry=prometheus)])
    monkeypatch.setattr(rerankit._tracing, "_otel", OpenTelemetry(tracer_provider, meter_provider))
    yield Telemetry(tracer_provider, exporter, reader, prometheus)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@dataclass
class Providers:
    """Cohere down (every request answers 503) and Jina up, on loopback."""

    down: RerankServer
    jina: RerankServer


@pytest.fixture
def providers() -> Iterator[Providers]:
    with (
        RerankServer("cohere", api_key=KEY, fault_rate=1.0, faults=["503"]) as down,
        RerankServer("jina", api_key=KEY) as jina,
    ):
        yield Providers(down, jina)


def documented_options(providers: Providers) -> dict[str, Any]:
    """The call docs/observability.md draws: Cohere (down, no retries left to try) falls back to
    Jina, whose first attempt gets a 503; the cache knows one document; one is cut into windows."""
    jina = Reranker(
        SPECS["jina"],
        base_url=providers.jina.base_url,
        api_key=KEY,
        max_document_tokens=64,
        backoff_base=0.01,
    )
    return {
        "base_url": providers.down.base_url,
        "api_key": KEY,
        "max_retries": 0,
        "max_document_tokens": 64,
        "fallbacks": [jina],
        "cache": True,
        "long_documents": "chunk",
    }


def documented_reranker(providers: Providers, **options: Any) -> Reranker:
    return Reranker(SPECS["cohere"], **documented_options(providers), **options)


def warm_cache(reranker: Reranker, providers: Providers) -> None:
    """Score :data:`CACHED` once (on Jina, since Cohere is down), then forget the requests."""
    reranker.rerank(QUERY, [CACHED])
    providers.down.reset()
    providers.jina.reset()
    providers.jina.fail_next("503")


#: The attributes the documented tree shows, span by span.
TREE_KEYS = (
    "openinference.span.kind",
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "rerankit.fallback.after",
    "rerankit.fallback.reason",
    "rerankit.cache.hits",
    "rerankit.cache.misses",
    "rerankit.windows.documents",
    "rerankit.part.index",
    "http.response.status_code",
    "rerankit.attempt",
    "rerankit.retry.reason",
    "rerankit.breaker.state",
)


def documented_tree() -> tuple[Any, ...]:
    """The tree of the documented call (docs/observability.md)."""
    return (
        "rerank rerank-v3.5",
        "UNSET",
        {
            "openinference.span.kind": "RERANKER",
            "gen_ai.operation.name": "rerank",
            "gen_ai.provider.name": "jina",
            "rerankit.cache.hits": 1,
            "rerankit.cache.misses": 2,
        },
        [
            (
                "score cohere",
                "ERROR",
                {"gen_ai.provider.name": "cohere"},
                [
                    (
                        "rerankit.prepare",
                        "UNSET",
                        {
                            "rerankit.cache.hits": 0,
                            "rerankit.cache.misses": 3,
                            "rerankit.windows.documents": 1,
                        },
                        [],
                    ),
                    (
                        "rerankit.part",
                        "ERROR",
                        {"rerankit.part.index": 0},
                        [
                            (
                                "POST /v2/rerank",
                                "ERROR",
                                {
                                    "gen_ai.provider.name": "cohere",
                                    "http.response.status_code": 503,
                                    "rerankit.attempt": 1,
                                    "rerankit.breaker.state": "closed",
                                },
                                [],
                            )
                        ],
                    ),
                ],
            ),
            (
                "score jina",
                "UNSET",
                {
                    "gen_ai.provider.name": "jina",
                    "rerankit.fallback.after": "cohere",
                    "rerankit.fallback.reason": "ServerError",
                },
                [
                    (
                        "rerankit.prepare",
                        "UNSET",
                        {
                            "rerankit.cache.hits": 1,
                            "rerankit.cache.misses": 2,
                            "rerankit.windows.documents": 1,
                        },
                        [],
                    ),
                    (
                        "rerankit.part",
                        "UNSET",
                        {"rerankit.part.index": 0},
                        [
                            (
                                "POST /v1/rerank",
                                "ERROR",
                                {
                                    "gen_ai.provider.name": "jina",
                                    "http.response.status_code": 503,
                                    "rerankit.attempt": 1,
                                    "rerankit.breaker.state": "closed",
                                },
                                [],
                            ),
                            (
                                "POST /v1/rerank",
                                "UNSET",
                                {
                                    "gen_ai.provider.name": "jina",
                                    "http.response.status_code": 200,
                                    "rerankit.attempt": 2,
                                    "rerankit.retry.reason": "HTTP 503",
                                    "rerankit.breaker.state": "closed",
                                },
                                [],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )
