"""One HTTP attempt of the transport: its span, and the retries instrument from the second on.

Why an attempt is a retry is the reason the attempt before it failed (``HTTP 503``, ``read
timeout``, ``connect error``): the transport makes a call's attempts one after the other in one
thread or task, so the last failure is kept in a context variable between them.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from rerankit._tracing._metrics import MetricsSink, record_retry

#: Why the last attempt made in this context failed; ``None`` after a success.
LAST_FAILURE: ContextVar[str | None] = ContextVar("rerankit_last_attempt_failure", default=None)


class Attempt:
    """One HTTP attempt: to ``endpoint`` (a probe of its half-open breaker or not), number ``number``
    from 1, of ``method`` on ``path``, for ``provider``; a context manager (its span, and the
    retries instrument from the second attempt on), see :func:`rerankit._tracing.http_attempt`."""

    __slots__ = ("endpoint", "method", "number", "otel", "path", "probe", "provider", "scope", "sink")

    def __init__(
        self,
        otel: Any,
        sink: MetricsSink | None,
        provider: str,
        endpoint: Any,
        probe: bool,
        number: int,
        method: str,
        path: str,
    ) -> None:
        self.otel, self.sink = otel, sink
        self.provider, self.endpoint, self.probe = provider, endpoint, probe
        self.number, self.method, self.path = number, method, path
        self.scope: Any = None

    def __enter__(self) -> Any:
        otel, retry_reason = self.otel, None
        if self.number > 1:
            retry_reason = LAST_FAILURE.get()
            reason = retry_reason or "unknown"
            if otel is not None and otel.meters():
                record_retry(otel.metrics, self.provider, reason)
            if self.sink is not None:
                record_retry(self.sink, self.provider, reason)
        LAST_FAILURE.set(None)
        if otel is None or not otel.traces():
            return None
        self.scope = otel.attempt_span(self, retry_reason)
        return self.scope.__enter__()

    def __exit__(self, kind: Any, failure: BaseException | None, traceback: Any) -> None:
        if failure is not None:
            if isinstance(failure, Exception):
                LAST_FAILURE.set(getattr(failure, "reason", None) or type(failure).__name__)
            else:
                LAST_FAILURE.set("cancelled")
        if self.scope is not None:
            self.scope.__exit__(kind, failure, traceback)


__all__ = ["LAST_FAILURE", "Attempt"]
