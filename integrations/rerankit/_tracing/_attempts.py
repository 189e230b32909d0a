"""One HTTP attempt of the transport: its span, and the retries instrument from the second on.

Why an attempt is a retry is the reason the attempt before it failed (``HTTP 503``, ``read
timeout``, ``connect error``): the transport makes a call's attempts one after the other in one
thread or task, so the last failure is kept in a context variable between them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from rerankit._tracing._metrics import MetricsSink, record_retry

#: Why the last attempt made in this context failed; ``None`` after a success.
LAST_FAILURE: ContextVar[str | None] = ContextVar("rerankit_last_attempt_failure", default=None)


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt: to ``endpoint`` (a probe of its half-open breaker or not), number ``number``
    from 1, of ``method`` on ``path``, for ``provider``."""

    provider: str
    endpoint: Any
    probe: bool
    number: int
    method: str
    path: str


@contextlib.contextmanager
def attempt_span(otel: Any, sink: MetricsSink | None, attempt: Attempt) -> Iterator[Any]:
    """The span of ``attempt``; see :func:`rerankit._tracing.http_attempt`."""
    retry_reason = LAST_FAILURE.get() if attempt.number > 1 else None
    LAST_FAILURE.set(None)
    if attempt.number > 1:
        reason = retry_reason or "unknown"
        for recorder in (getattr(otel, "metrics", None), sink):
            if recorder is not None:
                record_retry(recorder, attempt.provider, reason)
    scope = otel.attempt_span(attempt, retry_reason) if otel is not None else contextlib.nullcontext()
    try:
        with scope as span:
            yield span
    except Exception as failure:
        LAST_FAILURE.set(getattr(failure, "reason", None) or type(failure).__name__)
        raise
    except BaseException:
        LAST_FAILURE.set("cancelled")
        raise


__all__ = ["LAST_FAILURE", "Attempt", "attempt_span"]
