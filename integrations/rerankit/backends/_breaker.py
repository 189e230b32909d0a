"""Circuit breakers: the state a remote backend keeps about each endpoint's health.

A :class:`CircuitBreaker` per endpoint counts the *attempts* (requests) sent there that failed with a
kind the error policy counts (:data:`COUNTED_ERRORS`, from :mod:`rerankit.backends._error_policy`);
after ``breaker_threshold`` of them in a row (12 by default), with no success between, it opens
for a cool-down, then lets one probe through (half-open). It is thread-safe (the sync and async
paths share it), takes its clock and randomness as arguments, and reads its options from the
transport's settings under their own names (:class:`BreakerSettings`).
:mod:`rerankit.backends._endpoints` routes requests with it; the retry quota is
:mod:`rerankit.backends._retry_quota`.

What was taken from whom (see docs/reliability.md):

* the trigger, Envoy's *consecutive 5xx* outlier detection (``consecutive_5xx``: failed responses
  in a row *per host*, a success resets the count), with a threshold sized for a client whose one
  endpoint may be all it has: Envoy's default of 5 suits a load balancer that has other hosts and
  routes to every host anyway when too many are ejected (panic mode); at a 30% transient fault rate
  5 failures in a row come about every 600 requests, 12 (the default here) about every 2.6 million,
  while an outage fails them all at once. Counting attempts, not calls, sees an outage in its first
  requests, even while every call in flight is still retrying;
* the cool-down that grows with each ejection, capped, with jitter (Envoy ``base_ejection_time`` ×
  ejections, ``max_ejection_time``, ``max_ejection_time_jitter``); Nygard's half-open state with a
  single probe request.

Why not ``pybreaker``, ``aiobreaker`` or ``circuitbreaker``: they wrap a whole function call
(sync or async, not both on one state: ``aiobreaker`` is asyncio only, ``pybreaker`` does async
through Tornado), read the wall clock (``pybreaker``: ``datetime.now``; no fake clock for tests),
do not hold back concurrent calls in half-open (its ``before_call`` lets any call through), and
cannot see the attempts inside one call (retries must stop when the breaker opens, and a retry
must move to another endpoint).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from rerankit import _tracing
from rerankit._errors import BackendError
from rerankit.backends._error_policy import COUNTED_ERRORS as COUNTED_ERRORS  # the policy's, named here

logger = logging.getLogger("rerankit")

#: A source of monotonic seconds (``time.monotonic``; a fake one in tests).
Clock = Callable[[], float]


class BreakerSettings(Protocol):
    """What a breaker reads, under the transport's option names: a
    :class:`~rerankit.backends._settings.TransportSettings` (where each is declared, with its
    default and its reasons) is one."""

    @property
    def circuit_breaker(self) -> bool: ...
    @property
    def breaker_threshold(self) -> int: ...
    @property
    def breaker_failure_span(self) -> float: ...
    @property
    def breaker_cooldown(self) -> float: ...
    @property
    def breaker_max_cooldown(self) -> float: ...


#: Share of a cool-down taken off at random, so that clients opened together probe apart.
COOLDOWN_JITTER = 0.2


class BreakerState(str, Enum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerSnapshot:
    """A breaker's state at one moment (:meth:`CircuitBreaker.snapshot`)."""

    state: BreakerState
    #: When an open breaker lets a probe through (monotonic seconds of its clock).
    open_until: float
    consecutive_failures: int
    last_error: BackendError | None


class CircuitBreaker:
    """One endpoint's breaker: closed → open after ``breaker_threshold`` consecutive failed attempts,
    the run lasting at least ``breaker_failure_span`` seconds → after a cool-down, half-open: one
    probe request → closed on success, open again (longer) on failure.

    The cool-down is ``breaker_cooldown × 2^(openings − 1)``, capped at ``breaker_max_cooldown``,
    less up to 20% of jitter. Without ``circuit_breaker`` it never opens but still counts (for
    :meth:`EndpointRouter.health`).

    >>> from rerankit import ServerError
    >>> from rerankit.backends._settings import TransportSettings
    >>> settings = TransportSettings(
    ...     provider="demo", base_url="http://127.0.0.1:9",
    ...     breaker_threshold=2, breaker_failure_span=1, breaker_cooldown=10,
    ... )
    >>> now = [0.0]
    >>> breaker = CircuitBreaker("demo", settings, clock=lambda: now[0], rng=lambda: 0.0)
    >>> breaker.failed(ServerError("down")); now[0] = 1.0; breaker.failed(ServerError("down"))
    >>> breaker.state, breaker.acquire()
    (<BreakerState.OPEN: 'open'>, None)
    >>> now[0] = 11.0
    >>> breaker.acquire(), breaker.acquire()  # one probe, then nothing until it answers
    ('probe', None)
    >>> breaker.succeeded(probe=True); breaker.state
    <BreakerState.CLOSED: 'closed'>
    """

    def __init__(
        self,
        name: str,
        settings: BreakerSettings,
        *,
        clock: Clock = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        #: The options it follows (``circuit_breaker`` and the ``breaker_*`` ones).
        self.settings = settings
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.failing_since = 0.0  # when the current run of failures began
        self.openings = 0  # openings since it was last closed: each doubles the cool-down
        self.open_until = 0.0
        self.last_error: BackendError | None = None
        self._probe_out = False

    @property
    def enabled(self) -> bool:
        """Whether it may open (the ``circuit_breaker`` option); disabled, it still counts."""
        return self.settings.circuit_breaker

    def available(self) -> bool:
        """Whether :meth:`acquire` would let a request through now (it takes nothing)."""
        with self._lock:
            if not self.enabled or self.state is BreakerState.CLOSED:
                return True
            if self.state is BreakerState.OPEN:
                return self._clock() >= self.open_until
            return not self._probe_out

    def acquire(self) -> str | None:
        """Let one request through: ``"normal"`` (closed), ``"probe"`` (the one half-open request), or
        ``None`` (open, or the probe is already out)."""
        with self._lock:
            if not self.enabled or self.state is BreakerState.CLOSED:
                return "normal"
            if self.state is BreakerState.OPEN:
                if self._clock() < self.open_until:
                    return None
                self.state = BreakerState.HALF_OPEN
                self._probe_out = False
                change = "half-open: cool-down over, letting one probe request through"
            else:
                change = None
            if self._probe_out:
                return None
            self._probe_out = True
        if change:
            self._log(change)
        return "probe"

    def succeeded(self, *, probe: bool = False) -> None:
        """The endpoint answered (a score, or a rejection that is the request's fault). A probe's
        answer closes the breaker; a late answer to a request sent before it opened changes nothing."""
        with self._lock:
            if self.state is BreakerState.CLOSED:
                self.consecutive_failures = 0
                return
            if not (probe and self.state is BreakerState.HALF_OPEN):
                return
            self.state, self.openings, self._probe_out = BreakerState.CLOSED, 0, False
            self.consecutive_failures = 0
        self._log("closed: the probe request succeeded")

    def failed(self, error: BackendError, *, probe: bool = False) -> None:
        """An attempt failed on this endpoint with a counted error: count it; open when it is time
        (after ``threshold`` in a row over ``failure_span`` seconds, or at once when it was the
        half-open probe)."""
        with self._lock:
            self.last_error = error
            if self.state is BreakerState.CLOSED:
                now = self._clock()
                if self.consecutive_failures == 0:
                    self.failing_since = now
                self.consecutive_failures += 1
                if not self.enabled or self.consecutive_failures < self.settings.breaker_threshold:
                    return
                if now - self.failing_since < self.settings.breaker_failure_span:
                    return  # all at one moment so far: the next failures decide
            elif not (probe and self.state is BreakerState.HALF_OPEN):
                return  # a late answer to a request sent before it opened: nothing new
            seconds = self._open()
        threshold = self.settings.breaker_threshold
        plural = "s" if threshold != 1 else ""
        why = "the probe request failed" if probe else f"{threshold} consecutive failed request{plural}"
        self._log(f"open for {seconds:.1f} s after {why} (last error: {describe_error(error)})")

    def released(self) -> None:
        """A probe ended without a verdict (cancelled): let the next request probe instead."""
        with self._lock:
            if self.state is BreakerState.HALF_OPEN:
                self._probe_out = False

    def snapshot(self) -> BreakerSnapshot:
        """Its state, read at one moment (for :meth:`EndpointRouter.health`)."""
        with self._lock:
            return BreakerSnapshot(self.state, self.open_until, self.consecutive_failures, self.last_error)

    def retry_in(self) -> float:
        """Seconds until a request may be let through (0 when it may now)."""
        with self._lock:
            if not self.enabled or self.state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self.open_until - self._clock())

    def _open(self) -> float:
        self.openings += 1
        cooldown, cap = self.settings.breaker_cooldown, self.settings.breaker_max_cooldown
        base = min(cap, cooldown * 2 ** (self.openings - 1))
        seconds = base * (1 - COOLDOWN_JITTER * self._rng())
        self.state, self.open_until, self._probe_out = BreakerState.OPEN, self._clock() + seconds, False
        return seconds

    def _log(self, change: str) -> None:
        logger.warning("%s: circuit breaker %s", self.name, change, extra={"breaker": self.name})
        _tracing.breaker_transition(self.name, self.state.value)


def describe_error(error: BackendError | None) -> str:
    """An error as its type and message, for logs and health reports (never a secret: messages are
    redacted by the transport)."""
    if error is None:
        return "none"
    return f"{type(error).__name__}: {error.message}"


__all__ = [
    "COUNTED_ERRORS",
    "BreakerSettings",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "describe_error",
]
