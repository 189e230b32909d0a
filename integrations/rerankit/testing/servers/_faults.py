"""The faults a loopback server can be told to produce (see the package docs for what each does),
and the quiet way it drops a connection."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

#: Faults that change a valid request's 200 answer (the others replace the answer).
ANSWER_FAULTS = frozenset({"malformed-json", "bad-index", "dup-index", "missing", "nan", "string-score"})
#: Faults that replace the answer whatever the request holds.
TRANSPORT_FAULTS = frozenset(
    {"429-retry-after", "429-retry-after-date", "drop", "stall", "html", "html-200", "redirect"}
)
#: The pool the random fault mix draws from unless ``faults`` is given: all retryable.
DEFAULT_RANDOM_FAULTS: tuple[str, ...] = ("429", "500", "502", "503", "504", "drop")

_STATUS_FAULT = re.compile(r"^[1-5]\d\d$")

#: The message a status fault's error body carries, unless the provider's format says otherwise.
DEFAULT_MESSAGES = {
    400: "invalid request",
    401: "invalid api token",
    402: "payment required: please add a payment method",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    408: "request timeout",
    409: "conflict",
    422: "unprocessable entity",
    425: "too early",
    429: "rate limit exceeded, please retry later",
    498: "blocked input",
    500: "internal server error",
    501: "not implemented",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


class DroppedConnection(Exception):
    """Raised after the status line to make uvicorn close the connection without a body."""


class _HideDroppedConnections(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is DroppedConnection)


_uvicorn_filter_installed = False
_uvicorn_filter_lock = threading.Lock()


def install_uvicorn_filter() -> None:
    """Keep the tracebacks of deliberately dropped connections out of uvicorn's error log (once)."""
    global _uvicorn_filter_installed
    with _uvicorn_filter_lock:
        if not _uvicorn_filter_installed:
            logging.getLogger("uvicorn.error").addFilter(_HideDroppedConnections())
            _uvicorn_filter_installed = True


def check_fault(fault: str) -> None:
    """Raise ``ValueError`` naming the valid faults unless ``fault`` is one."""
    if fault in ANSWER_FAULTS or fault in TRANSPORT_FAULTS or _STATUS_FAULT.match(fault):
        return
    valid = sorted(ANSWER_FAULTS | TRANSPORT_FAULTS)
    raise ValueError(f"unknown fault {fault!r}; valid faults: any status code like '503', {', '.join(valid)}")


def shape_results(results: list[dict[str, Any]], fault: str | None, count: int, score_key: str) -> None:
    """Apply an answer-shaping fault to a ranked result list (``count`` documents were sent)."""
    if not results or fault is None:
        return
    if fault == "bad-index":
        results[-1]["index"] = count
    elif fault == "dup-index":
        results[-1]["index"] = results[0]["index"]
    elif fault == "missing":
        results.pop()
    elif fault == "nan":
        results[0][score_key] = float("nan")
    elif fault == "string-score":
        results[0][score_key] = str(results[0][score_key])


def shape_scores(values: list[Any], fault: str | None) -> None:
    """Apply an answer-shaping fault to bare scores in input order (one too many, one too few, ...)."""
    if fault in ("bad-index", "dup-index"):
        values.append(0.5)
    elif fault == "missing":
        values.pop()
    elif fault == "nan":
        values[0] = float("nan")
    elif fault == "string-score":
        values[0] = str(values[0])


__all__ = [
    "ANSWER_FAULTS",
    "DEFAULT_MESSAGES",
    "DEFAULT_RANDOM_FAULTS",
    "TRANSPORT_FAULTS",
    "DroppedConnection",
    "check_fault",
    "install_uvicorn_filter",
    "shape_results",
    "shape_scores",
]
