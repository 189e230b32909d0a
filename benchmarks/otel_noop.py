"""An OpenTelemetry SDK whose exporters drop everything: the tracing benchmarks' "on" setting.

Spans are recorded and batched, metrics collected on a timer, as an application's SDK does, but
nothing leaves the process, so a benchmark measures the instrumentation and the SDK, not a
collector. Imported by the benchmark workers before rerankit (it does not touch ``sys.path``).
"""

from __future__ import annotations

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class DropSpans(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


class DropMetrics(MetricExporter):
    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass


def install(export_interval_ms: int) -> None:
    """Set the global tracer and meter providers to ones that record and drop."""
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropSpans()))
    trace.set_tracer_provider(provider)
    reader = PeriodicExportingMetricReader(DropMetrics(), export_interval_ms)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
