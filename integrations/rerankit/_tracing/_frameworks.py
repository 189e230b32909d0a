"""The framework's current span, for the adapters to nest their call under (:func:`rerankit._tracing.framework_parent`).

A framework's tracer does not always make its span the current OpenTelemetry context: OpenInference's
LangChain tracer keeps one span per run and does not attach it ("attaching the context can be
hazardous" in a system of callbacks, its ``_start_trace`` says), and hands it out with
``get_span(run_id)``; a LlamaIndex span handler keeps its open spans by the dispatcher's span id. So
the adapters ask the framework. Where nothing is found, the current OpenTelemetry context is the
parent, as everywhere else.
"""

from __future__ import annotations

from typing import Any


def langchain_span(run: Any) -> Any:
    """The span a LangChain tracer among ``run``'s handlers made for it (``run`` is the child run
    manager of the adapter's own run), or ``None``."""
    for handler in getattr(run, "handlers", None) or ():
        get_span = getattr(handler, "get_span", None)
        if callable(get_span):
            span = get_span(run.run_id)
            if span is not None and hasattr(span, "get_span_context"):
                return span
    return None


def llama_index_span() -> Any:
    """The OpenTelemetry span of LlamaIndex's active span (the postprocessor's own), as a span
    handler of the root dispatcher keeps it, or ``None``."""
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.span import active_span_id
    from opentelemetry import trace
    from opentelemetry.context import Context

    span_id = active_span_id.get()
    if span_id is None:
        return None
    for handler in get_dispatcher().span_handlers:
        opened = getattr(handler, "open_spans", {}).get(span_id)
        context = getattr(opened, "context", None)  # OpenInference's span: its OpenTelemetry context
        if callable(context):
            context = context()
        if isinstance(context, Context):
            span = trace.get_current_span(context)
            if span.get_span_context().is_valid:
                return span
    return None


__all__ = ["langchain_span", "llama_index_span"]
