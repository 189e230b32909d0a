"""The OpenTelemetry SDK's own floor under one traced ``rerank`` call, with no rerankit around it.

What :mod:`tracing`'s ``on, no-op exporter`` contender records per call, made directly on the SDK
with every attribute dict built in advance: the same four spans, nested and each made current
(the call, the backend, the part, the HTTP attempt), with the same attribute keys and value types
(the call's 7 at its start and its response's 45 at its end, 20 output documents' index and score
among them; the backend's and the part's 3; the attempt's 8 at its start and 2 once answered), the
W3C ``traceparent`` injected into the request's headers, and the same three instrument records
(calls, call duration, pairs scored). Run :func:`floor_call` in a process whose global tracer and
meter providers are the SDK's: its cost is what any instrumentation recording that much pays,
whatever builds it, so the rest of the ``on`` row's overhead is rerankit's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.trace import SpanKind

DOCUMENTS = 20

CALL_START: dict[str, Any] = {
    "openinference.span.kind": "RERANKER",
    "gen_ai.operation.name": "rerank",
    "gen_ai.provider.name": "cohere",
    "gen_ai.request.model": "rerank-v3.5",
    "reranker.model_name": "rerank-v3.5",
    "rerankit.operation": "rerank",
    "rerankit.documents": DOCUMENTS,
}
CALL_END: dict[str, Any] = {
    "gen_ai.provider.name": "cohere",
    "gen_ai.response.model": "rerank-v3.5",
    "rerankit.backend": "cohere",
    "rerankit.pairs_scored": DOCUMENTS,
    "rerankit.requests": 1,
    "rerankit.search_units": 1,
}
for _rank in range(DOCUMENTS):
    CALL_END[f"reranker.output_documents.{_rank}.document.id"] = DOCUMENTS - 1 - _rank
    CALL_END[f"reranker.output_documents.{_rank}.document.score"] = 1.0 - _rank / DOCUMENTS
BACKEND = {
    "rerankit.backend": "cohere",
    "gen_ai.provider.name": "cohere",
    "gen_ai.request.model": "rerank-v3.5",
}
PART = {"rerankit.part.count": 1, "rerankit.part.texts": DOCUMENTS, "rerankit.part.index": 0}
ATTEMPT_START: dict[str, Any] = {
    "url.full": "http://127.0.0.1:8000/v2/rerank",
    "server.address": "127.0.0.1",
    "server.port": 8000,
    "http.request.method": "POST",
    "gen_ai.provider.name": "cohere",
    "rerankit.endpoint": "http://127.0.0.1:8000",
    "rerankit.attempt": 1,
    "rerankit.breaker.state": "closed",
}
ATTEMPT_END: dict[str, Any] = {"http.response.status_code": 200, "rerankit.request_id": "cohere-req-000001"}
CALL_METRIC = {
    "rerankit.operation": "rerank",
    "rerankit.backend": "cohere",
    "rerankit.model": "rerank-v3.5",
    "rerankit.outcome": "ok",
}
PAIRS_METRIC = {"rerankit.backend": "cohere"}


def floor_call() -> Callable[[], None]:
    """One call's spans, context switches, header injection and instrument records, on the global
    providers (to be set up before this is called)."""
    tracer = trace.get_tracer("rerankit-floor")
    meter = metrics.get_meter("rerankit-floor")
    calls = meter.create_counter("rerankit.calls", "{call}")
    duration = meter.create_histogram("rerankit.call.duration", "s")
    pairs = meter.create_counter("rerankit.pairs_scored", "{pair}")
    attach, detach, in_context = context.attach, context.detach, trace.set_span_in_context

    def call() -> None:
        span = tracer.start_span("rerank rerank-v3.5", attributes=CALL_START)
        token = attach(in_context(span))
        backend = tracer.start_span("score cohere", attributes=BACKEND)
        backend_token = attach(in_context(backend))
        part = tracer.start_span("rerankit.part", attributes=PART)
        part_token = attach(in_context(part))
        attempt = tracer.start_span("POST /v2/rerank", kind=SpanKind.CLIENT, attributes=ATTEMPT_START)
        attempt_token = attach(in_context(attempt))
        propagate.inject({"authorization": "Bearer x"})
        attempt.set_attributes(ATTEMPT_END)
        detach(attempt_token)
        attempt.end()
        detach(part_token)
        part.end()
        detach(backend_token)
        backend.end()
        span.set_attributes(CALL_END)
        detach(token)
        span.end()
        calls.add(1, CALL_METRIC)
        duration.record(0.002, CALL_METRIC)
        pairs.add(DOCUMENTS, PAIRS_METRIC)

    return call


__all__ = ["floor_call"]
