"""The one door to tracing and metrics: the core, the transport, the local models and ``serve`` call
these hooks, and nothing else in rerankit imports OpenTelemetry (docs/observability.md).

Without ``opentelemetry`` installed (the ``otel`` extra), nothing is imported: every hook checks a
module global (those of the instruments also the request's metrics sink, see below) and returns (a
decorator calls the function it wraps, a context manager is the shared :data:`NO_SPAN`). With it, the spans are made by :mod:`rerankit._tracing._spans` on the tracer
provider the application set up, and the instruments of :mod:`rerankit._tracing._metrics` are
recorded on its meter provider. Until the application sets a provider, the hooks do as without
OpenTelemetry (the API's stand-ins would record nothing): a span hook checks one flag, looked up
until a tracer provider is set (:meth:`~rerankit._tracing._spans.OpenTelemetry.traces`), and
:func:`propagated` still passes on a context the application made current. ``rerankit serve`` also hands
each request a :class:`~rerankit._tracing._metrics.MetricsSink` of its own (its Prometheus page),
which is fed whether or not OpenTelemetry is installed.

The hooks, by where they are called:

* :func:`traced_call` decorates ``Reranker.rerank``/``arerank``/``rerank_batch``/``arerank_batch``:
  the RERANKER span of the call, and the call's instruments;
* :func:`backend_span` brackets what scores a call on one backend (a fallback gets its own), and
  :func:`fallback` marks the next one as a fallback;
* :func:`traced_prepare` decorates ``DocumentsToScore.prepare`` (cache hits and misses, long-document
  windows); :func:`part_scorer`/:func:`apart_scorer` wrap a backend's ``score``/``ascore`` for the
  parts of a call (one span each, carried into the worker threads);
* :func:`http_attempt` brackets each HTTP attempt of the transport, :func:`http_answered` notes the
  status it got, :func:`propagated` adds the W3C ``traceparent`` to its headers, and
  :func:`breaker_transition` counts a circuit breaker's change of state;
* :func:`forward_pass` brackets one forward pass of a local model;
* :func:`traced_endpoint` wraps a ``serve`` route: it continues the caller's ``traceparent``;
* :func:`framework_parent` nests an adapter's call under the framework's current span.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from rerankit._tracing._attempts import Attempt
from rerankit._tracing._call import CallTrace
from rerankit._tracing._metrics import MetricsSink, record_transition

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("rerankit")

#: What a context-manager hook returns when there is nothing to record: one shared object.
NO_SPAN: contextlib.AbstractContextManager[None] = contextlib.nullcontext()

#: The metrics sink of the ``serve`` request being answered (its Prometheus page), if any.
CURRENT_SINK: ContextVar[MetricsSink | None] = ContextVar("rerankit_metrics_sink", default=None)


def _opentelemetry_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry") is not None
    except (ImportError, ValueError):  # blocked, or a broken install
        return False


_UNLOADED: Any = object()
#: The OpenTelemetry side (spans and instruments), loaded on first use; ``None`` without it.
_otel: Any = _UNLOADED if _opentelemetry_installed() else None


def _load() -> Any:
    """The OpenTelemetry side, imported the first time a hook needs it (``None`` when it fails)."""
    global _otel
    if _otel is _UNLOADED:
        try:
            from rerankit._tracing._spans import OpenTelemetry

            _otel = OpenTelemetry()
        except ImportError as error:  # the API without the conventions' packages, say
            logger.info("rerankit traces nothing: %s (pip install 'rerankit[otel]')", error)
            _otel = None
    return _otel


def enabled() -> bool:
    """Whether OpenTelemetry is installed and loaded (loading it if it is installed and not yet)."""
    return _active() is not None


def _active() -> Any:
    """The OpenTelemetry side, or ``None``: then a hook records spans nowhere."""
    return _otel if _otel is not _UNLOADED else _load()


def _live() -> Any:
    """The OpenTelemetry side when the application set a tracer or a meter provider, or ``None``
    (installed but not set up: the API's stand-ins would record nothing, so nothing is made)."""
    otel = _otel if _otel is not _UNLOADED else _load()
    return otel if otel is not None and otel.live() else None


def _tracing() -> Any:
    """The OpenTelemetry side when the application set a tracer provider, or ``None``."""
    otel = _otel if _otel is not _UNLOADED else _load()
    return otel if otel is not None and otel.traces() else None


# -- the call -------------------------------------------------------------------------------------


def traced_call(operation: str) -> Callable[[F], F]:
    """Decorate a ``Reranker`` method named ``operation``: its span, and the call's instruments.

    The method's arguments are read as ``rerank``'s (``query``/``queries``, ``documents``,
    ``top_n``, ``score_threshold``) and its result as a ``RerankResponse`` (a list of them for a
    batch). Content is recorded only when the reranker's ``trace_content`` is on.
    """

    def decorate(method: F) -> F:
        parameters = list(inspect.signature(method).parameters)[1:]

        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
                otel, sink = _live(), CURRENT_SINK.get()
                if otel is None and sink is None:
                    return await method(self, *args, **kwargs)
                with _call(otel, sink, operation, self, parameters, args, kwargs) as call:
                    return call.returned(await method(self, *args, **kwargs))

            return traced_async  # type: ignore[return-value]

        @functools.wraps(method)
        def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
            otel, sink = _live(), CURRENT_SINK.get()
            if otel is None and sink is None:
                return method(self, *args, **kwargs)
            with _call(otel, sink, operation, self, parameters, args, kwargs) as call:
                return call.returned(method(self, *args, **kwargs))

        return traced  # type: ignore[return-value]

    return decorate


def _call(
    otel: Any,
    sink: MetricsSink | None,
    operation: str,
    reranker: Any,
    parameters: list[str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    arguments = dict(zip(parameters, args, strict=False)) | kwargs
    return CallTrace(otel, sink, operation, reranker, arguments)


# -- scoring on one backend -------------------------------------------------------------------------


def backend_span(backend: Any) -> contextlib.AbstractContextManager[Any]:
    """The ``score {backend}`` span of what scores a call (or a batch's items) on ``backend``, marked
    as a fallback when :func:`fallback` was just called; a context manager, so that a flow
    (:mod:`rerankit._flow`) keeps it open across its yields, sync or async."""
    otel = _tracing()
    return NO_SPAN if otel is None else otel.backend_span(backend)


def fallback(failed: Any, fallback: Any, error: BaseException) -> None:
    """``failed`` raised ``error`` and ``fallback`` is tried next: an event on the call's span, and
    the next backend's span says it is a fallback."""
    otel = _tracing()
    if otel is not None:
        otel.fallback(failed, fallback, error)


def traced_prepare(prepare: F) -> F:
    """Decorate ``DocumentsToScore.prepare(cls, backend, query, distinct, long_documents, cache)``: a
    ``rerankit.prepare`` span with the cache's hits and misses and the long documents' windows
    (only with a cache or ``long_documents="chunk"``)."""

    @functools.wraps(prepare)
    def traced(
        cls: Any, backend: Any, query: str, distinct: Sequence[Any], long_documents: Any, cache: Any
    ) -> Any:
        otel = _tracing()
        if otel is None:
            return prepare(cls, backend, query, distinct, long_documents, cache)
        return otel.prepare(prepare, cls, backend, query, distinct, long_documents, cache)

    return traced  # type: ignore[return-value]


def part_scorer(score: F, parts: Sequence[Sequence[Any]]) -> F:
    """``score`` (a backend's ``score(query, texts)``) for the ``parts`` of one call: each call of it
    is a ``rerankit.part`` span under the current one, also from a worker thread."""
    otel = _tracing()
    return score if otel is None else otel.part_scorer(score, parts)


def apart_scorer(ascore: F, parts: Sequence[Sequence[Any]]) -> F:
    """Async :func:`part_scorer`, for a backend's ``ascore``."""
    otel = _tracing()
    return ascore if otel is None else otel.apart_scorer(ascore, parts)


# -- the transport ----------------------------------------------------------------------------------


def http_attempt(
    provider: str, endpoint: Any, probe: bool, attempt: int, method: str, path: str
) -> contextlib.AbstractContextManager[Any]:
    """One HTTP attempt of the transport on ``endpoint``: its CLIENT span (endpoint, breaker state,
    attempt number, why the one before failed) and, from the second on, the retries instrument."""
    otel, sink = _live(), CURRENT_SINK.get()
    if otel is None and sink is None:
        return NO_SPAN
    return Attempt(otel, sink, provider, endpoint, probe, attempt, method, path)


def http_answered(status: int, request_id: str | None) -> None:
    """The provider answered ``status`` to the current attempt."""
    otel = _tracing()
    if otel is not None:
        otel.answered(status, request_id)


def propagated(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus the current trace context (W3C ``traceparent``, ``tracestate``), as sent."""
    otel = _active()
    if otel is not None:
        otel.inject(headers)
    return headers


def breaker_transition(breaker: str, state: str) -> None:
    """The circuit breaker named ``breaker`` (``"<provider> at <url>"``) entered ``state``."""
    otel, sink = _live(), CURRENT_SINK.get()
    if otel is not None:
        otel.breaker_transition(breaker, state)
    if sink is not None:
        record_transition(sink, breaker, state)


# -- local models -----------------------------------------------------------------------------------


def forward_pass(
    pairs: int, tokens: int | None = None, device: str | None = None
) -> contextlib.AbstractContextManager[Any]:
    """One forward pass of a local model over ``pairs`` pairs (``tokens`` padded tokens, if known)."""
    otel = _tracing()
    return NO_SPAN if otel is None else otel.forward_span(pairs, tokens, device)


# -- serve and the adapters -------------------------------------------------------------------------


def traced_endpoint(route: str, endpoint: F, sink: MetricsSink | None = None) -> F:
    """``endpoint`` (an async Starlette handler for ``route``) continuing the caller's W3C trace
    context in a SERVER span, with ``sink`` receiving the instruments of the calls it makes."""

    @functools.wraps(endpoint)
    async def traced(request: Any) -> Any:
        token = CURRENT_SINK.set(sink)
        try:
            otel = _active()
            if otel is None:
                return await endpoint(request)
            with otel.server_span(request, route) as span:
                response = await endpoint(request)
                otel.served(span, response.status_code)
                return response
        finally:
            CURRENT_SINK.reset(token)

    return traced  # type: ignore[return-value]


@contextlib.contextmanager
def framework_parent(find: Callable[[], Any]) -> Iterator[None]:
    """Make the framework's current span (what ``find()`` returns: an OpenTelemetry span, or
    ``None``) the parent of the spans made inside; see :mod:`rerankit._tracing._frameworks`."""
    otel = _active()
    if otel is None:
        yield
        return
    with otel.under(find()):
        yield


__all__ = [
    "CURRENT_SINK",
    "NO_SPAN",
    "MetricsSink",
    "apart_scorer",
    "backend_span",
    "breaker_transition",
    "enabled",
    "fallback",
    "forward_pass",
    "framework_parent",
    "http_answered",
    "http_attempt",
    "part_scorer",
    "propagated",
    "traced_call",
    "traced_endpoint",
    "traced_prepare",
]
