"""The error policy: what each answer and fault of a remote call means, written once.

Every decision about a failure reads this module:

* which error of the family (:mod:`rerankit._errors`) an HTTP status or a transport fault becomes
  (:func:`rule_for_status` and the fault rules, read by :mod:`rerankit.backends._answers` and
  :mod:`rerankit.backends._http`);
* whether the transport tries again (:attr:`ErrorRule.retried`, read by
  :mod:`rerankit.backends._retries`, which also adds ``(gave up after N attempts)`` to the final
  message of exactly the retried ones);
* whether a failed attempt counts toward opening the endpoint's circuit breaker
  (:data:`COUNTED_ERRORS`, read by :mod:`rerankit.backends._breaker` and
  :mod:`rerankit.backends._endpoints`);
* whether the core scores the call again on the next backend (:data:`FALLBACK_ERRORS`, read by
  :mod:`rerankit._rerank_plan` and :mod:`rerankit._batch`).

What an error *class* means to the breaker and the core is :data:`KINDS` (they see the exception,
whichever backend raised it); what the transport makes of an *answer* is :data:`RULES`, each rule
naming its class, so that every rule also says whether it is counted and falls back.
docs/errors.md shows :data:`RULES` as a table, and ``tests/docs/test_error_policy.py`` checks that
table against this one, row by row. This module imports no httpx: the core reads it too.

The retried statuses are 429 and the transient 5xx (500, 502, 503, 504), 408 (RFC 9110 §15.5.9,
Request Timeout), 409 and 425 (RFC 8470 §5.2, Too Early); 501 (RFC 9110 §15.6.2, Not Implemented)
will not change on a retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from rerankit import _errors as errors
from rerankit._errors import BackendError, RerankError


@dataclass(frozen=True)
class ErrorKind:
    """What one error class means beyond the attempt that raised it."""

    error: type[RerankError]
    #: A failed attempt of this kind counts toward opening its endpoint's breaker: the endpoint
    #: itself may be down. Rejections and bad credentials say the endpoint is up.
    counted: bool
    #: The core scores the whole call again on the next backend: another provider may answer.
    #: Bad input, rejected requests, bad credentials and bad configuration are the caller's to fix.
    falls_back: bool


#: Every error class the policy decides on; an error of no class here is neither counted nor falls back.
KINDS: tuple[ErrorKind, ...] = (
    ErrorKind(errors.AuthenticationError, counted=False, falls_back=False),
    ErrorKind(errors.RateLimitError, counted=True, falls_back=True),
    ErrorKind(errors.InvalidRequestError, counted=False, falls_back=False),
    ErrorKind(errors.ServerError, counted=True, falls_back=True),
    ErrorKind(errors.RerankTimeoutError, counted=True, falls_back=True),
    ErrorKind(errors.MalformedResponseError, counted=True, falls_back=True),
    # Raised before anything is sent, so no breaker ever sees it; the next backend may be healthy.
    ErrorKind(errors.CircuitOpenError, counted=False, falls_back=True),
    ErrorKind(errors.InvalidInputError, counted=False, falls_back=False),
    ErrorKind(errors.ConfigurationError, counted=False, falls_back=False),
)


def kind_of(error: type[RerankError]) -> ErrorKind:
    """The kind of an error class (its own, or that of the nearest class in :data:`KINDS` it derives from)."""
    for cls in error.__mro__:
        for kind in KINDS:
            if kind.error is cls:
                return kind
    raise KeyError(f"{error.__name__} has no error kind in the policy")


@dataclass(frozen=True)
class ErrorRule:
    """What the transport makes of one kind of answer or fault: the error, and whether to try again."""

    #: The answer or fault, as docs/errors.md names it.
    answer: str
    error: type[RerankError]
    retried: bool
    #: The HTTP statuses this rule is for (empty: a fault, or a range of statuses).
    statuses: frozenset[int] = field(default_factory=frozenset)

    @property
    def counted(self) -> bool:
        """Whether the breaker counts a failed attempt that ends with this rule."""
        return kind_of(self.error).counted

    @property
    def falls_back(self) -> bool:
        """Whether the core tries the next backend when a call ends with this rule."""
        return kind_of(self.error).falls_back


# -- HTTP statuses ----------------------------------------------------------------------------
UNAUTHORIZED = ErrorRule(
    "401, 403", errors.AuthenticationError, retried=False, statuses=frozenset({401, 403})
)
REQUEST_TIMEOUT = ErrorRule("408", errors.RerankTimeoutError, retried=True, statuses=frozenset({408}))
CONFLICT = ErrorRule("409, 425", errors.InvalidRequestError, retried=True, statuses=frozenset({409, 425}))
RATE_LIMITED = ErrorRule("429", errors.RateLimitError, retried=True, statuses=frozenset({429}))
SERVER_BUSY = ErrorRule(
    "500, 502, 503, 504", errors.ServerError, retried=True, statuses=frozenset({500, 502, 503, 504})
)
OTHER_SERVER = ErrorRule("501 and every other 5xx", errors.ServerError, retried=False)
REJECTED = ErrorRule(
    "400, 402, 404, 405, 422, 498 and every other 4xx", errors.InvalidRequestError, retried=False
)
REDIRECT = ErrorRule("a redirect (3xx), never followed", errors.InvalidRequestError, retried=False)
NOT_JSON = ErrorRule("a 2xx whose body is not JSON", errors.MalformedResponseError, retried=False)

# -- faults -----------------------------------------------------------------------------------
TIMED_OUT = ErrorRule("any timeout (connect, read, write, pool)", errors.RerankTimeoutError, retried=True)
CONNECT_FAILED = ErrorRule("connection refused or failed", errors.ServerError, retried=True)
DROPPED = ErrorRule("connection dropped before a complete answer", errors.ServerError, retried=True)
TRANSPORT_FAILED = ErrorRule("any other transport failure", errors.ServerError, retried=False)
DEADLINE = ErrorRule("the call's deadline passed", errors.RerankTimeoutError, retried=False)
CIRCUIT_OPEN = ErrorRule("every endpoint's breaker open", errors.CircuitOpenError, retried=False)

# -- raised before the transport --------------------------------------------------------------
BAD_INPUT = ErrorRule("bad input (nothing is sent)", errors.InvalidInputError, retried=False)
BAD_CONFIGURATION = ErrorRule(
    "bad configuration (when the reranker is built)", errors.ConfigurationError, retried=False
)

#: The policy, in the order docs/errors.md lists it.
RULES: tuple[ErrorRule, ...] = (
    UNAUTHORIZED,
    REQUEST_TIMEOUT,
    CONFLICT,
    RATE_LIMITED,
    SERVER_BUSY,
    OTHER_SERVER,
    REJECTED,
    REDIRECT,
    NOT_JSON,
    TIMED_OUT,
    CONNECT_FAILED,
    DROPPED,
    TRANSPORT_FAILED,
    DEADLINE,
    CIRCUIT_OPEN,
    BAD_INPUT,
    BAD_CONFIGURATION,
)

_BY_STATUS: dict[int, ErrorRule] = {status: rule for rule in RULES for status in rule.statuses}

#: Statuses worth another try: the provider may answer differently in a moment.
RETRY_STATUSES: frozenset[int] = frozenset(
    status for rule in RULES if rule.retried for status in rule.statuses
)
#: The failures a breaker counts (the kinds a fallback is tried on that an endpoint can cause).
COUNTED_ERRORS: tuple[type[BackendError], ...] = tuple(
    kind.error for kind in KINDS if kind.counted and issubclass(kind.error, BackendError)
)
#: The failures the core tries the next backend on, after the backend's own retries.
FALLBACK_ERRORS: tuple[type[Exception], ...] = tuple(kind.error for kind in KINDS if kind.falls_back)


def rule_for_status(status: int) -> ErrorRule:
    """The rule for an answer with HTTP ``status`` that is not a 2xx."""
    rule = _BY_STATUS.get(status)
    if rule is not None:
        return rule
    if 300 <= status < 400:
        return REDIRECT
    if 400 <= status < 500:
        return REJECTED
    if status >= 500:
        return OTHER_SERVER
    return NOT_JSON  # not an error status (a 1xx as the final answer): nothing to trust


def error_class(status: int) -> type[BackendError]:
    """The error family member for an HTTP error status."""
    return cast("type[BackendError]", rule_for_status(status).error)  # every status rule's is one


__all__ = [
    "BAD_CONFIGURATION",
    "BAD_INPUT",
    "CIRCUIT_OPEN",
    "CONFLICT",
    "CONNECT_FAILED",
    "COUNTED_ERRORS",
    "DEADLINE",
    "DROPPED",
    "FALLBACK_ERRORS",
    "KINDS",
    "NOT_JSON",
    "OTHER_SERVER",
    "RATE_LIMITED",
    "REDIRECT",
    "REJECTED",
    "REQUEST_TIMEOUT",
    "RETRY_STATUSES",
    "RULES",
    "SERVER_BUSY",
    "TIMED_OUT",
    "TRANSPORT_FAILED",
    "UNAUTHORIZED",
    "ErrorKind",
    "ErrorRule",
    "error_class",
    "kind_of",
    "rule_for_status",
]
