"""The attributes of a call's span and of a batch's item spans (OpenTelemetry installed only)."""

from __future__ import annotations

import functools
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
    QUERY,
    RERANKER,
    SPAN_KIND,
    TOP_K,
    _Current,
    chunk_metadata,
    document_attributes,
    fail,
    output_keys,
)

__all__ = ["CONTENT", "CallSpan"]


class CallSpan:
    """The span of a call (a :class:`~rerankit._tracing._call.CallTrace`), current while it runs: on
    exit what it returned is recorded on it (for a batch, one span per item), or its error."""

    __slots__ = ("call", "content_token", "scope")

    def __init__(self, call: Any) -> None:
        self.call = call

    def __enter__(self) -> Span:
        call = self.call
        # the children's errors tell their message only under a call that records content
        self.content_token = CONTENT.set(call.content) if CONTENT.get() is not call.content else None
        name, attributes = _call_attributes(call)
        span = call.otel.tracer.start_span(name, attributes=attributes)
        if call.batch:
            call.start_ns = time.time_ns()
        self.scope = _Current(span, fail)
        return self.scope.__enter__()

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        try:
            if error is None:
                finish(self.call.otel, self.call)
        finally:
            self.scope.__exit__(kind, error, traceback)
            if self.content_token is not None:
                CONTENT.reset(self.content_token)


def _call_attributes(call: Any) -> tuple[str, dict[str, Any]]:
    """The name of ``call``'s span and the attributes it starts with."""
    backend, arguments, batch = call.backend, call.arguments, call.batch
    name, constant = _call_span(backend.name, backend.model, call.operation, batch)
    attributes = {**constant}
    _request_attributes(attributes, arguments, batch)
    if batch:
        attributes[names.BATCH_ITEMS] = len(queries_and_documents(arguments, batch=True))
    elif call.content:
        attributes |= _content_attributes(arguments.get("query"), arguments.get("documents"))
    return name, attributes


@functools.lru_cache(maxsize=256)
def _call_span(backend: str, model: str, operation: str, batch: bool) -> tuple[str, dict[str, Any]]:
    """The name of a call's span and the attributes every call of it has (shared: copied)."""
    return f"{'rerank_batch' if batch else names.RERANK_OPERATION} {model}", {
        SPAN_KIND: CHAIN if batch else RERANKER,
        gen_ai.GEN_AI_OPERATION_NAME: names.RERANK_OPERATION,
        gen_ai.GEN_AI_PROVIDER_NAME: backend,
        gen_ai.GEN_AI_REQUEST_MODEL: model,
        MODEL_NAME: model,
        names.OPERATION: operation,
    }


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
    _request_attributes(attributes, call.arguments, batch=False)
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


def _request_attributes(attributes: dict[str, Any], arguments: dict[str, Any], batch: bool) -> None:
    """Add the call's ``top_n``, ``score_threshold`` and (one call's) document count."""
    top_n = arguments.get("top_n")
    if top_n is not None and type(top_n) is not bool and isinstance(top_n, int):
        attributes[TOP_K] = top_n
    threshold = arguments.get("score_threshold")
    if threshold is not None and type(threshold) is not bool and isinstance(threshold, (int, float)):
        attributes[names.SCORE_THRESHOLD] = float(threshold)
    if not batch:
        documents = arguments.get("documents")
        if type(documents) is list or (isinstance(documents, Sized) and not isinstance(documents, str)):
            attributes[names.DOCUMENTS] = len(documents)


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
        attributes[names.CACHE_HITS] = usage.cache_hits
        attributes[names.CACHE_MISSES] = usage.cache_misses
    results = response.results
    keys = output_keys(len(results))
    for (id_key, score_key, content_key, metadata_key), result in zip(keys, results, strict=False):
        attributes[id_key] = result.index
        attributes[score_key] = result.relevance_score
        if content and isinstance(result.document, str):
            attributes[content_key] = result.document
        if result.chunk is not None:
            attributes[metadata_key] = chunk_metadata(result.chunk)
    return attributes
