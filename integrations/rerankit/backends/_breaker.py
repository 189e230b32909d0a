"""Circuit breakers and the retry budget: the state a remote backend keeps about its endpoints' health.

A :class:`CircuitBreaker` per endpoint counts failed calls of the kinds a fallback is tried on; after
a few in a row it opens for a cool-down, then lets one probe through (half-open). A
:class:`RetryBudget` caps the retries of a whole backend to a share of its recent requests. Both are
thread-safe (the sync and async paths share them) and take their clock and randomness as
arguments. :mod:`rerankit.backends._endpoints` routes requests with them.

What was taken from whom (see docs/reliability.md):

* the breaker's trigger, Envoy's *consecutive 5xx* outlier detection and LiteLLM Router's
  ``allowed_fails``: a few consecutive failures of the kinds a fallback is tried on; a cool-down
  that grows with each ejection, capped, with jitter (Envoy ``base_ejection_time`` ×
  ejections, ``max_ejection_time``, ``max_ejection_time_jitter``); Nygard's half-open state with a
  single probe request;
* failures are counted per call and endpoint, not per attempt: a call whose retries succeed is a
  success (otherwise a 30% flaky endpoint would trip after a run of failed attempts that the
  retries absorb);
* the retry budget, Finagle's ``RetryBudget``: retries may be at most ``ratio`` (20%, Finagle's
  and Envoy's default) of the requests of the last ``window`` seconds, plus a reserve of ``floor``
  retries per second so that light traffic keeps its retries.

Why not ``pybreaker``, ``aiobreaker`` or ``circuitbreaker``: they wrap a whole function call
(sync or async, not both on one state: ``aiobreaker`` is asyncio only, ``pybreaker`` does async
through Tornado), read the wall clock (``pybreaker``: ``datetime.now``; no fake clock for tests),
do not hold back concurrent calls in half-open (its ``before_call`` lets any call through), and
cannot see the attempts inside one call (retries must stop when the breaker opens, and a retry
must move to another endpoint).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from rerankit._errors import (
    BackendError,
    MalformedResponseError,
    RateLimitError,
    RerankTimeoutError,
    ServerError,
)

logger = logging.getLogger("rerankit")

#: A source of monotonic seconds (``time.monotonic``; a fake one in tests).
Clock = Callable[[], float]

#: The failures a breaker counts: those a fallback is tried on (rate limited, server errors and
#: dropped or refused connections, timeouts, malformed answers). Bad input, 4xx rejections and
#: authentication errors are the caller's to fix: they say the endpoint is up.
COUNTED_ERRORS: tuple[type[BackendError], ...] = (
    RateLimitError,
    ServerError,
    RerankTimeoutError,
    MalformedResponseError,
)
#: Share of a cool-down taken off at random, so that clients opened together probe apart.
COOLDOWN_JITTER = 0.2


class BreakerState(str, Enum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """One endpoint's breaker: closed → open after ``threshold`` consecutive failed calls → after a
    cool-down, half-open: one probe request → closed on success, open again (longer) on failure.

    The cool-down is ``cooldown × 2^(openings − 1)``, capped at ``max_cooldown``, less up to 20% of
    jitter. Disabled, it never opens but still counts (for :meth:`EndpointRouter.health`).

    >>> now = [0.0]
    >>> breaker = CircuitBreaker("demo", threshold=2, cooldown=10, clock=lambda: now[0], rng=lambda: 0.0)
    >>> breaker.failed(ServerError("down")); breaker.failed(ServerError("down"))
    >>> breaker.state, breaker.acquire()
    (<BreakerState.OPEN: 'open'>, None)
    >>> now[0] = 10.0
    >>> breaker.acquire(), breaker.acquire()  # one probe, then nothing until it answers
    ('probe', None)
    >>> breaker.succeeded(probe=True); breaker.state
    <BreakerState.CLOSED: 'closed'>
    """

    def __init__(
        self,
        name: str,
        *,
        threshold: int = 3,
        cooldown: float = 5.0,
        max_cooldown: float = 30.0,
        enabled: bool = True,
        clock: Clock = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.enabled = enabled
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.openings = 0  # openings since it was last closed: each doubles the cool-down
        self.open_until = 0.0
        self.last_error: BackendError | None = None
        self._probe_out = False

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
        """A call failed on this endpoint with a counted error: count it; open when it is time
        (after ``threshold`` in a row, or at once when it was the half-open probe)."""
        with self._lock:
            self.last_error = error
            if self.state is BreakerState.CLOSED:
                self.consecutive_failures += 1
                if not self.enabled or self.consecutive_failures < self.threshold:
                    return
            elif not (probe and self.state is BreakerState.HALF_OPEN):
                return  # a late answer to a request sent before it opened: nothing new
            seconds = self._open()
        plural = "s" if self.threshold != 1 else ""
        why = "the probe request failed" if probe else f"{self.threshold} consecutive failed call{plural}"
        self._log(f"open for {seconds:.1f} s after {why} (last error: {describe_error(error)})")

    def released(self) -> None:
        """A probe ended without a verdict (cancelled): let the next request probe instead."""
        with self._lock:
            if self.state is BreakerState.HALF_OPEN:
                self._probe_out = False

    def retry_in(self) -> float:
        """Seconds until a request may be let through (0 when it may now)."""
        with self._lock:
            if not self.enabled or self.state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self.open_until - self._clock())

    def _open(self) -> float:
        self.openings += 1
        base = min(self.max_cooldown, self.cooldown * 2 ** (self.openings - 1))
        seconds = base * (1 - COOLDOWN_JITTER * self._rng())
        self.state, self.open_until, self._probe_out = BreakerState.OPEN, self._clock() + seconds, False
        return seconds

    def _log(self, change: str) -> None:
        logger.warning("%s: circuit breaker %s", self.name, change, extra={"breaker": self.name})


class RetryBudget:
    """Retries allowed over the last ``window`` seconds: ``ratio`` × the first attempts sent in it,
    plus a reserve of ``floor`` retries per second for light traffic (Finagle's ``RetryBudget``:
    deposits per request, withdrawals per retry, both expiring after the window).

    Counted in ten buckets per window, so its memory is bounded whatever the traffic.

    >>> now = [0.0]
    >>> budget = RetryBudget(ratio=0.5, floor=0.1, window=10, clock=lambda: now[0])
    >>> for _ in range(4):
    ...     budget.record_request()
    >>> [budget.try_retry() for _ in range(4)]  # 0.1 x 10 + 0.5 x 4 = 3
    [True, True, True, False]
    >>> now[0] = 11.0  # the window has passed: only the reserve is left
    >>> budget.try_retry(), budget.try_retry()
    (True, False)
    """

    BUCKETS = 10

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        floor: float = 2.0,
        window: float = 10.0,
        enabled: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ratio, self.floor, self.window, self.enabled = ratio, floor, window, enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: deque[list[float]] = deque()  # [start, first attempts, retries]
        self.denied = 0

    def record_request(self) -> None:
        """A call's first attempt was sent."""
        with self._lock:
            self._bucket()[1] += 1

    def try_retry(self) -> bool:
        """Whether one more retry fits the budget; if it does, it is counted."""
        with self._lock:
            bucket = self._bucket()
            requests, retries = self._totals()
            allowed = math.floor(self.floor * self.window + self.ratio * requests + 1e-9)
            if self.enabled and retries >= allowed:
                self.denied += 1
                return False
            bucket[2] += 1
            return True

    def snapshot(self) -> tuple[int, int]:
        """First attempts and retries in the current window."""
        with self._lock:
            self._bucket()
            requests, retries = self._totals()
            return int(requests), int(retries)

    def _totals(self) -> tuple[float, float]:
        return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)

    def _bucket(self) -> list[float]:
        now = self._clock()
        while self._buckets and self._buckets[0][0] <= now - self.window:
            self._buckets.popleft()
        width = self.window / self.BUCKETS
        if not self._buckets or now >= self._buckets[-1][0] + width:
            self._buckets.append([now, 0, 0])
        return self._buckets[-1]


def describe_error(error: BackendError | None) -> str:
    """An error as its type and message, for logs and health reports (never a secret: messages are
    redacted by the transport)."""
    if error is None:
        return "none"
    return f"{type(error).__name__}: {error.message}"


__all__ = ["COUNTED_ERRORS", "BreakerState", "CircuitBreaker", "Clock", "RetryBudget", "describe_error"]
