"""The attributes of a call's span and of a batch's item spans (OpenTelemetry installed only)."""

from __future__ import annotations

import time
from collections.abc import Sized
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import Span

from rerankit._tracing import _names as names
from rerankit._tracing._call import queries_and_documents
from rerankit._tracing._spans import (
    CHAIN,
    CONTENT,
    INPUT_DOCUMENTS,
    INPUT_VALUE,
    MODEL_NAME,
    OUTPUT_DOCUMENTS,
    QUERY,
    RERANKER,
    SPAN_KIND,
    TOP_K,
    document_attributes,
    fail,
)

__all__ = ["CONTENT", "call_span", "finish"]


def call_span(otel: Any, call: Any) -> Any:
    """The span of ``call`` (a :class:`~rerankit._tracing._call.CallTrace`), made current."""
    backend, arguments = call.backend, call.arguments
    attributes: dict[str, Any] = {
        SPAN_KIND: CHAIN if call.batch else RERANKER,
        gen_ai.GEN_AI_OPERATION_NAME: names.RERANK_OPERATION,
        gen_ai.GEN_AI_PROVIDER_NAME: backend.name,
        gen_ai.GEN_AI_REQUEST_MODEL: backend.model,
        MODEL_NAME: backend.model,
        names.OPERATION: call.operation,
    }
    attributes |= _request_attributes(arguments, call.batch)
    if call.batch:
        items = queries_and_documents(arguments, batch=True)
        attributes[names.BATCH_ITEMS] = len(items)
    elif call.content:
        attributes |= _content_attributes(arguments.get("query"), arguments.get("documents"))
    operation = "rerank_batch" if call.batch else names.RERANK_OPERATION
    return otel.span(f"{operation} {backend.model}", attributes, child=False)


def finish(otel: Any, call: Any) -> None:
    """Record what ``call`` returned on its span (and, for a batch, one span per item)."""
    span: Span = call.span
    if not span.is_recording():
        return
    if not call.batch:
        span.set_attributes(_response_attributes(call.result, call.content))
        return
    failed = 0
    for position, ((query, documents), outcome) in enumerate(
        zip(queries_and_documents(call.arguments, batch=True), call.result, strict=False)
    ):
        failed += isinstance(outcome, BaseException)
        _item_span(otel, call, position, query, documents, outcome)
    span.set_attribute(names.BATCH_FAILED, failed)


def _item_span(otel: Any, call: Any, position: int, query: Any, documents: Any, outcome: Any) -> None:
    """A RERANKER span for one item of a batch, from the batch's start to now."""
    backend = call.backend
    attributes: dict[str, Any] = {
        SPAN_KIND: RERANKER,
        gen_ai.GEN_AI_OPERATION_NAME: names.RERANK_OPERATION,
        gen_ai.GEN_AI_PROVIDER_NAME: backend.name,
        gen_ai.GEN_AI_REQUEST_MODEL: backend.model,
        MODEL_NAME: backend.model,
        names.BATCH_ITEM: position,
    }
    attributes |= _request_attributes(call.arguments, batch=False)
    if isinstance(documents, Sized):
        attributes[names.DOCUMENTS] = len(documents)
    if call.content:
        attributes |= _content_attributes(query, documents)
    span = otel.tracer.start_span(
        f"{names.RERANK_OPERATION} {backend.model}", attributes=attributes, start_time=call.start_ns
    )
    if isinstance(outcome, BaseException):
        fail(span, outcome)
    elif outcome is not None:
        span.set_attributes(_response_attributes(outcome, call.content))
    span.end(time.time_ns())


def _request_attributes(arguments: dict[str, Any], batch: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    top_n = arguments.get("top_n")
    if isinstance(top_n, int) and not isinstance(top_n, bool):
        attributes[TOP_K] = top_n
    threshold = arguments.get("score_threshold")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        attributes[names.SCORE_THRESHOLD] = float(threshold)
    documents = arguments.get("documents")
    if not batch and isinstance(documents, Sized) and not isinstance(documents, str):
        attributes[names.DOCUMENTS] = len(documents)
    return attributes


def _content_attributes(query: Any, documents: Any) -> dict[str, Any]:
    """The query and the input documents' text (``trace_content=True`` only)."""
    attributes: dict[str, Any] = {}
    if isinstance(query, str):
        attributes[QUERY] = query
        attributes[INPUT_VALUE] = query
    if isinstance(documents, (list, tuple)):
        for index, text in enumerate(documents):
            attributes |= document_attributes(
                INPUT_DOCUMENTS, index, index, content=text if isinstance(text, str) else str(text)
            )
    return attributes


def _response_attributes(response: Any, content: bool) -> dict[str, Any]:
    """What a response adds: the backend that answered, usage, and the output documents (their
    input index and score; their text too with ``content``)."""
    usage = response.usage
    attributes: dict[str, Any] = {
        gen_ai.GEN_AI_PROVIDER_NAME: response.backend,
        gen_ai.GEN_AI_RESPONSE_MODEL: response.model,
        names.BACKEND: response.backend,
        names.PAIRS_SCORED: usage.pairs_scored,
        names.REQUESTS: usage.requests,
    }
    if usage.tokens is not None:
        attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] = usage.tokens
    if usage.search_units is not None:
        attributes[names.SEARCH_UNITS] = usage.search_units
    if usage.cache_hits or usage.cache_misses:
        attributes |= {names.CACHE_HITS: usage.cache_hits, names.CACHE_MISSES: usage.cache_misses}
    for rank, result in enumerate(response.results):
        attributes |= document_attributes(
            OUTPUT_DOCUMENTS,
            rank,
            result.index,
            score=result.relevance_score,
            content=result.document if content and isinstance(result.document, str) else None,
            chunk=result.chunk,
        )
    return attributes
