"""The spans, on OpenTelemetry: imported only when ``opentelemetry`` is installed (see the facade,
:mod:`rerankit._tracing`).

Attribute keys come from the conventions' own packages: OpenInference's RERANKER span
(``openinference.semconv.trace``: ``RerankerAttributes``, ``DocumentAttributes``,
``OpenInferenceSpanKindValues``; spec/semantic_conventions.md of Arize-ai/openinference, where a list
of documents is flattened as ``reranker.output_documents.<i>.document.<field>``) and OpenTelemetry's
GenAI, HTTP, server, URL and error attributes (``opentelemetry.semconv``).
"""

from __future__ import annotations

import contextlib
import functools
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from openinference.semconv.trace import (
    DocumentAttributes,
    OpenInferenceSpanKindValues,
    RerankerAttributes,
    SpanAttributes,
)
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import (
    error_attributes,
    http_attributes,
    server_attributes,
    url_attributes,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from rerankit import __version__
from rerankit._tracing import _names as names
from rerankit._tracing._documents import chunk_metadata, document_attributes, output_keys
from rerankit._tracing._errors import description
from rerankit._tracing._metrics import OpenTelemetryMetrics, record_transition
from rerankit._tracing._providers import meter_provider_set, tracer_provider_set

SPAN_KIND = SpanAttributes.OPENINFERENCE_SPAN_KIND
RERANKER = OpenInferenceSpanKindValues.RERANKER.value
CHAIN = OpenInferenceSpanKindValues.CHAIN.value
QUERY = RerankerAttributes.RERANKER_QUERY
MODEL_NAME = RerankerAttributes.RERANKER_MODEL_NAME
TOP_K = RerankerAttributes.RERANKER_TOP_K
INPUT_DOCUMENTS = RerankerAttributes.RERANKER_INPUT_DOCUMENTS
OUTPUT_DOCUMENTS = RerankerAttributes.RERANKER_OUTPUT_DOCUMENTS
DOCUMENT_ID = DocumentAttributes.DOCUMENT_ID
DOCUMENT_SCORE = DocumentAttributes.DOCUMENT_SCORE
DOCUMENT_CONTENT = DocumentAttributes.DOCUMENT_CONTENT
DOCUMENT_METADATA = DocumentAttributes.DOCUMENT_METADATA
INPUT_VALUE = SpanAttributes.INPUT_VALUE

#: Whether the call being traced records its text (its reranker's ``trace_content``).
CONTENT: ContextVar[bool] = ContextVar("rerankit_trace_content", default=False)
#: The fallback just taken in this context: (the backend that failed, its error's type).
PENDING_FALLBACK: ContextVar[tuple[str, str] | None] = ContextVar("rerankit_fallback", default=None)


def fail(span: Span, error: BaseException) -> None:
    """Mark ``span`` failed with ``error``: status, ``error.type`` and an ``exception`` event, with
    the message only when the call records content."""
    text = description(error, CONTENT.get())
    span.set_status(Status(StatusCode.ERROR, text))
    if not span.is_recording():
        return
    span.set_attribute(error_attributes.ERROR_TYPE, type(error).__name__)
    attributes = {"exception.message": text}
    if not CONTENT.get():  # a traceback's last line, and those of the errors it chains, are messages
        frames = "".join(traceback.format_tb(error.__traceback__))
        attributes["exception.stacktrace"] = f"Traceback (most recent call last):\n{frames}{text}\n"
    span.record_exception(error, attributes=attributes, escaped=True)


class _Current:
    """A started span, current while the ``with`` body runs, ended after it (failed if it raised).

    It is made current in ``within`` (the current context unless given).
    """

    __slots__ = ("on_error", "span", "token", "within")

    def __init__(
        self,
        span: Span,
        on_error: Callable[[Span, BaseException], None],
        within: otel_context.Context | None = None,
    ) -> None:
        self.span, self.on_error, self.within = span, on_error, within

    def __enter__(self) -> Span:
        self.token = otel_context.attach(trace.set_span_in_context(self.span, self.within))
        return self.span

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        try:
            if error is not None:
                self.on_error(self.span, error)
        finally:
            otel_context.detach(self.token)
            self.span.end()


#: What :meth:`OpenTelemetry.span` gives where nothing records: the body runs as it is.
NOT_RECORDING: Any = contextlib.nullcontext(trace.INVALID_SPAN)


class OpenTelemetry:
    """rerankit's tracer and instruments, from the application's tracer and meter providers (the
    global ones unless given)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from rerankit._tracing._call_spans import CallSpan  # it imports this module

        self.tracer = trace.get_tracer("rerankit", __version__, tracer_provider=tracer_provider)
        self.metrics = OpenTelemetryMetrics(__version__, meter_provider)
        self.call_span = CallSpan
        # Until the application sets a provider, the API's stand-in records nothing: a call then
        # skips its spans (instruments) altogether. A provider once set stays (the API refuses a
        # second), so the answer is looked up only until it is yes.
        self._traces = tracer_provider is not None
        self._meters = meter_provider is not None

    def traces(self) -> bool:
        """Whether a tracer provider is set (the global one, unless one was given)."""
        if not self._traces:
            self._traces = tracer_provider_set()
        return self._traces

    def live(self) -> bool:
        """Whether a tracer or a meter provider is set: else a call has nothing to record here."""
        return self._traces or self._meters or self.traces() or self.meters()

    def meters(self) -> bool:
        """Whether a meter provider is set (the global one, unless one was given)."""
        if not self._meters:
            self._meters = meter_provider_set()
        return self._meters

    def span(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        context: otel_context.Context | None = None,
        start_time: int | None = None,
        on_error: Callable[[Span, BaseException], None] = fail,
        child: bool = True,
    ) -> Any:
        """A span made current for the body; ``on_error`` (content-safe) when the body raises.

        A ``child`` span is made only under a recording span: under OpenTelemetry's no-op tracer
        (no SDK set up) or an unsampled call, the call's span is not recording, and then neither
        would its children be; skipping them keeps that case nearly free.
        """
        within = None
        if child:
            current = otel_context.get_current()
            if not trace.get_current_span(current).is_recording():
                return NOT_RECORDING
            if context is None:
                context = within = current
        span = self.tracer.start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=start_time
        )
        return _Current(span, on_error, within)

    # -- scoring on a backend -----------------------------------------------------------------

    def backend_span(self, backend: Any) -> Any:
        name, attributes = _backend_span(backend.name, backend.model)
        after = PENDING_FALLBACK.get()
        if after is not None:
            PENDING_FALLBACK.set(None)
            attributes = {
                **attributes,
                names.FALLBACK: True,
                names.FALLBACK_AFTER: after[0],
                names.FALLBACK_REASON: after[1],
            }
        return self.span(name, attributes)

    def fallback(self, failed: Any, fallback: Any, error: BaseException) -> None:
        reason = type(error).__name__
        PENDING_FALLBACK.set((failed.name, reason))
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                names.FALLBACK_EVENT,
                {
                    names.FALLBACK_AFTER: failed.name,
                    names.FALLBACK_REASON: reason,
                    names.BACKEND: fallback.name,
                },
            )

    def prepare(
        self,
        prepare: Callable[..., Any],
        cls: Any,
        backend: Any,
        query: str,
        distinct: Sequence[Any],
        long_documents: Any,
        cache: Any,
    ) -> Any:
        if cache is None and not long_documents.chunked:  # nothing to tell: no span
            return prepare(cls, backend, query, distinct, long_documents, cache)
        with self.span(names.PREPARE_SPAN, {DOCUMENTS: len(distinct)}) as span:
            units = prepare(cls, backend, query, distinct, long_documents, cache)
            if span.is_recording():
                span.set_attributes(_units_attributes(units, cache, long_documents.chunked))
            return units

    def part_scorer(self, score: Callable[..., Any], parts: Sequence[Sequence[Any]]) -> Any:
        context = otel_context.get_current()
        if not trace.get_current_span(context).is_recording():
            return score
        positions, count = _positions(parts), len(parts)

        def scored(query: str, texts: Sequence[Any]) -> Any:
            # under the call's context also from a pool's worker thread: the part's span is made
            # in it and made current in its place (one attach), then the thread's own is back
            attributes = _part_attributes(positions, count, texts)
            span = self.tracer.start_span(names.PART_SPAN, context=context, attributes=attributes)
            with _Current(span, fail, context):
                return score(query, texts)

        return scored

    def apart_scorer(self, ascore: Callable[..., Any], parts: Sequence[Sequence[Any]]) -> Any:
        if not trace.get_current_span().is_recording():
            return ascore
        positions, count = _positions(parts), len(parts)

        async def scored(query: str, texts: Sequence[Any]) -> Any:
            with self.span(names.PART_SPAN, _part_attributes(positions, count, texts)):
                return await ascore(query, texts)

        return scored

    def forward_span(self, pairs: int, tokens: int | None, device: str | None) -> Any:
        attributes: dict[str, Any] = {names.FORWARD_PAIRS: pairs}
        if tokens is not None:
            attributes[names.FORWARD_TOKENS] = tokens
        if device is not None:
            attributes[names.DEVICE] = str(device)
        return self.span(names.FORWARD_SPAN, attributes)

    # -- the transport --------------------------------------------------------------------------

    def attempt_span(self, attempt: Any, retry_reason: str | None) -> Any:
        """The CLIENT span of an :class:`~rerankit._tracing._attempts.Attempt`."""
        current = otel_context.get_current()
        if not trace.get_current_span(current).is_recording():  # checked before building anything
            return NOT_RECORDING
        endpoint, number = attempt.endpoint, attempt.number
        name, constant = _attempt_span(endpoint.url, attempt.path, attempt.method, attempt.provider)
        attributes: dict[str, Any] = {
            **constant,
            names.ATTEMPT: number,
            # a probe is the one request a half-open breaker lets through
            names.BREAKER_STATE: "half-open" if attempt.probe else endpoint.breaker.state.value,
        }
        if number > 1:
            attributes[http_attributes.HTTP_REQUEST_RESEND_COUNT] = number - 1
            if retry_reason is not None:
                attributes[names.RETRY_REASON] = retry_reason
        span = self.tracer.start_span(name, context=current, kind=SpanKind.CLIENT, attributes=attributes)
        return _Current(span, _attempt_failed, current)

    def answered(self, status: int, request_id: str | None) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            if request_id:
                span.set_attributes({STATUS_CODE: status, REQUEST_ID: request_id})
            else:
                span.set_attribute(STATUS_CODE, status)

    def inject(self, headers: dict[str, str]) -> None:
        propagate.inject(headers)

    def breaker_transition(self, breaker: str, state: str) -> None:
        record_transition(self.metrics, breaker, state)
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(names.BREAKER_EVENT, {names.BREAKER: breaker, names.STATE: state})

    # -- serve and the adapters -----------------------------------------------------------------

    def server_span(self, request: Any, route: str) -> Any:
        attributes = {
            http_attributes.HTTP_REQUEST_METHOD: request.method,
            http_attributes.HTTP_ROUTE: route,
            url_attributes.URL_PATH: request.url.path,
            url_attributes.URL_SCHEME: request.url.scheme,
        }
        parent = propagate.extract(request.headers)
        return self.span(
            f"{request.method} {route}", attributes, kind=SpanKind.SERVER, context=parent, child=False
        )

    def served(self, span: Span, status: int) -> None:
        span.set_attribute(http_attributes.HTTP_RESPONSE_STATUS_CODE, status)
        if status >= 500:  # a server span leaves 4xx unset: the client's error, not the server's
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute(error_attributes.ERROR_TYPE, str(status))

    @contextlib.contextmanager
    def under(self, parent: Any) -> Iterator[None]:
        if parent is None or not parent.get_span_context().is_valid:
            yield
            return
        token = otel_context.attach(trace.set_span_in_context(parent))
        try:
            yield
        finally:
            otel_context.detach(token)


DOCUMENTS = names.DOCUMENTS


STATUS_CODE = http_attributes.HTTP_RESPONSE_STATUS_CODE
REQUEST_ID = "rerankit.request_id"


@functools.lru_cache(maxsize=256)
def _attempt_span(base_url: str, path: str, method: str, provider: str) -> tuple[str, dict[str, Any]]:
    """The name of an attempt's span and the attributes every attempt of it shares: ``url.full``,
    ``server.address`` and ``server.port`` of ``path`` on an endpoint, the method, the provider."""
    url = base_url.rstrip("/") + path
    where = urlsplit(url)
    return f"{method} {path}", {
        url_attributes.URL_FULL: url,
        server_attributes.SERVER_ADDRESS: where.hostname or "",
        server_attributes.SERVER_PORT: where.port or (443 if where.scheme == "https" else 80),
        http_attributes.HTTP_REQUEST_METHOD: method,
        gen_ai.GEN_AI_PROVIDER_NAME: provider,
        names.ENDPOINT: base_url,
    }


@functools.lru_cache(maxsize=256)
def _backend_span(backend: str, model: str) -> tuple[str, dict[str, Any]]:
    """The name and attributes of a ``score {backend}`` span (the SDK copies them: shared here)."""
    return names.SCORE_SPAN.format(backend=backend), {
        names.BACKEND: backend,
        gen_ai.GEN_AI_PROVIDER_NAME: backend,
        gen_ai.GEN_AI_REQUEST_MODEL: model,
    }


def _attempt_failed(span: Span, failure: BaseException) -> None:
    """An HTTP attempt's failure: the typed error it carries, its status as ``error.type``."""
    error = getattr(failure, "error", failure)  # the transport's AttemptFailed wraps the typed error
    fail(span, error)
    status = getattr(error, "status_code", None)
    if status is not None and span.is_recording():
        span.set_attribute(http_attributes.HTTP_RESPONSE_STATUS_CODE, status)
        span.set_attribute(error_attributes.ERROR_TYPE, str(status))


def _positions(parts: Sequence[Sequence[Any]]) -> dict[int, int]:
    """Each part's index, by identity (the scorer is called with the very lists it was given)."""
    return {id(part): index for index, part in enumerate(parts)}


def _part_attributes(positions: dict[int, int], count: int, texts: Sequence[Any]) -> dict[str, Any]:
    attributes = {names.PART_COUNT: count, names.PART_TEXTS: len(texts)}
    index = positions.get(id(texts))
    if index is not None:
        attributes[names.PART_INDEX] = index
    return attributes


def _units_attributes(units: Any, cache: Any, chunked: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {names.TEXTS: len(units.texts)}
    if cache is not None:
        attributes |= {names.CACHE_HITS: units.hits, names.CACHE_MISSES: units.misses}
    if chunked:
        cut = [len(document.units) for document in units.documents if document.cached is None]
        attributes |= {names.WINDOWS_DOCUMENTS: sum(n > 1 for n in cut), names.WINDOWS: sum(cut)}
    return attributes


__all__ = ["CONTENT", "OpenTelemetry", "chunk_metadata", "document_attributes", "fail", "output_keys"]
