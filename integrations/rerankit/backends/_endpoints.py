"""The endpoints of one remote backend: which one a request goes to, circuit breakers, the retry budget.

A remote backend has one or more endpoints (``base_url=[url, ...]``: replicas of a server, or regional
addresses of an API). :class:`EndpointRouter` sends each request to the healthy endpoint with the
fewest requests in flight, ties broken at random, and keeps per endpoint a :class:`CircuitBreaker`,
its connection pools (owned by the transport) and the path that worked there (the gateway's
``/v1/rerank`` → ``/rerank`` fallback). :class:`CallRoute` follows one call (one part of a rerank)
over its attempts: a retry goes to another healthy endpoint when there is one, and when no endpoint
is left the call fails at once with :class:`~rerankit.errors.CircuitOpenError`. :class:`RetryBudget`
caps the retries of the whole backend to a share of its recent requests.

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
  retries per second so that light traffic keeps its retries;
* routing, "least requests in flight" with random ties (Envoy's least-request balancer), and
  LiteLLM's retry that "can land on a different deployment".

Why not ``pybreaker``, ``aiobreaker`` or ``circuitbreaker``: they wrap a whole function call
(sync or async, not both on one state: ``aiobreaker`` is asyncio only, ``pybreaker`` does async
through Tornado), read the wall clock (``pybreaker``: ``datetime.now``; no fake clock for tests),
do not hold back concurrent calls in half-open (its ``before_call`` lets any call through), and
cannot see the attempts inside one call (retries must stop
when the breaker opens, and a retry must move to another endpoint). The state machine below is
small, thread-safe (the sync and async paths share it), and takes its clock and randomness as
arguments.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from rerankit.errors import (
    BackendError,
    CircuitOpenError,
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
        self._log(f"open for {seconds:.1f} s after {why} (last error: {_describe(error)})")

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


class Endpoint:
    """One address of a backend: its breaker, counters, the paths that worked there, and the
    connection pools the transport opens for it (``client``, ``pools``)."""

    def __init__(self, index: int, url: str, api_key: SecretStr | None, breaker: CircuitBreaker) -> None:
        self.index = index
        self.url = url
        self.api_key = api_key
        self.breaker = breaker
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        #: requested path -> the path that worked here (the gateway's /v1/rerank -> /rerank)
        self.paths: dict[str, str] = {}
        self.client: Any = None  # httpx.Client, opened by the transport on first use
        self.pools: Any = None  # the transport's async pools of the current event loop

    def __repr__(self) -> str:
        return f"Endpoint({self.url!r}, {self.breaker.state.value})"


class EndpointHealth(BaseModel):
    """One endpoint's state, as :meth:`rerankit.Reranker.health` reports it."""

    model_config = ConfigDict(frozen=True)

    url: str
    state: BreakerState
    #: When an open breaker lets a probe through (UTC), ``None`` unless open.
    open_until: datetime | None = None
    #: Seconds until then (0 unless open).
    retry_in: float = 0.0
    requests: int
    failures: int
    consecutive_failures: int
    in_flight: int
    last_error: str | None = None


class BackendHealth(BaseModel):
    """A backend's endpoints and retry budget (``endpoints`` is empty for in-process backends)."""

    model_config = ConfigDict(frozen=True)

    backend: str
    model: str
    endpoints: list[EndpointHealth] = []
    circuit_breaker: bool = False
    #: First attempts and retries in the retry budget's window; retries it refused since the start.
    budget_requests: int = 0
    budget_retries: int = 0
    budget_denied: int = 0

    @property
    def healthy(self) -> bool:
        """Whether a request could be sent now (always, for in-process backends)."""
        return not self.endpoints or any(e.state is not BreakerState.OPEN for e in self.endpoints)


class EndpointRouter:
    """The endpoints of one backend and the choice among them; thread-safe, shared by sync and async."""

    def __init__(
        self,
        provider: str,
        urls: Sequence[str],
        api_keys: Sequence[SecretStr | None],
        *,
        breaker: dict[str, Any],
        budget: RetryBudget,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.budget = budget
        self.breaker_enabled = breaker.get("enabled", True)
        self.endpoints = [
            Endpoint(
                index,
                url,
                key,
                CircuitBreaker(f"{provider} at {url}", clock=clock, rng=self._rng.random, **breaker),
            )
            for index, (url, key) in enumerate(zip(urls, api_keys, strict=True))
        ]

    def choose(self, avoid: set[int]) -> tuple[Endpoint, bool] | None:
        """The endpoint for the next request (and whether it is a half-open probe), counted in
        flight; ``None`` when every breaker is open.

        Endpoints in ``avoid`` (those this call already failed on) come last; then an endpoint ready
        for its probe (so a recovered one is back at once); then the fewest in flight; ties at random.
        """
        with self._lock:
            candidates = [e for e in self.endpoints if e.breaker.available()]
            ranked = sorted(
                candidates,
                key=lambda e: (
                    e.index in avoid,
                    e.breaker.state is BreakerState.CLOSED,
                    e.in_flight,
                    self._rng.random(),
                ),
            )
        for endpoint in ranked:
            permit = endpoint.breaker.acquire()
            if permit is not None:
                with self._lock:
                    endpoint.in_flight += 1
                    endpoint.requests += 1
                return endpoint, permit == "probe"
        return None

    def finished(self, endpoint: Endpoint, *, failed: bool = False) -> None:
        """A request to ``endpoint`` ended (``failed``: with a counted error)."""
        with self._lock:
            endpoint.in_flight -= 1
            endpoint.failures += failed

    def count_request(self, endpoint: Endpoint) -> None:
        """One more request went to ``endpoint`` within the same attempt (a second path)."""
        with self._lock:
            endpoint.requests += 1

    def any_available(self) -> bool:
        """Whether some endpoint would take a request now."""
        return any(e.breaker.available() for e in self.endpoints)

    def open_error(self, last_error: BackendError | None) -> CircuitOpenError:
        """The error of a call that finds every endpoint's breaker open."""
        soonest = min(self.endpoints, key=lambda e: e.breaker.retry_in())
        last_error = last_error or soonest.breaker.last_error
        where = "its endpoint" if len(self.endpoints) == 1 else f"all {len(self.endpoints)} endpoints"
        retry_in = soonest.breaker.retry_in()
        return CircuitOpenError(
            f"{self.provider}: circuit breaker open on {where} after consecutive failures, so nothing "
            f"was sent (last error: {_describe(last_error)}); next try in {retry_in:.1f} s "
            f"({soonest.url})",
            provider=self.provider,
            last_error=last_error,
            retry_in=retry_in,
        )

    def health(self, model: str) -> BackendHealth:
        """A snapshot of every endpoint and of the retry budget."""
        wall, now = datetime.now(timezone.utc), self._clock()
        endpoints = []
        for endpoint in self.endpoints:
            breaker = endpoint.breaker
            with breaker._lock:
                state, until, consecutive = breaker.state, breaker.open_until, breaker.consecutive_failures
                error = breaker.last_error
            if not breaker.enabled:
                state = BreakerState.CLOSED
            elif state is BreakerState.OPEN and now >= until:
                state = BreakerState.HALF_OPEN  # the next request is its probe
            is_open = state is BreakerState.OPEN
            endpoints.append(
                EndpointHealth(
                    url=endpoint.url,
                    state=state,
                    open_until=wall + timedelta(seconds=until - now) if is_open else None,
                    retry_in=max(0.0, until - now) if is_open else 0.0,
                    requests=endpoint.requests,
                    failures=endpoint.failures,
                    consecutive_failures=consecutive,
                    in_flight=endpoint.in_flight,
                    last_error=_describe(error) if error is not None else None,
                )
            )
        requests, retries = self.budget.snapshot()
        return BackendHealth(
            backend=self.provider,
            model=model,
            endpoints=endpoints,
            circuit_breaker=self.breaker_enabled,
            budget_requests=requests,
            budget_retries=retries,
            budget_denied=self.budget.denied,
        )


class CallRoute:
    """One call's way over the endpoints, attempt by attempt, and what it tells their breakers.

    A breaker counts calls, not attempts: the attempts of one call on one endpoint are one verdict,
    given when the call moves to another endpoint or ends. A half-open probe's failure is told at
    once, so the endpoint reopens before the call's next attempt is placed.
    """

    def __init__(self, router: EndpointRouter) -> None:
        self.router = router
        self.failed_on: set[int] = set()
        self.last_error: BackendError | None = None
        self._pending: Endpoint | None = None  # failed this call, verdict not yet given

    def start(self) -> tuple[Endpoint, bool]:
        """The endpoint for this attempt; :class:`CircuitOpenError` when none is available."""
        chosen = self.router.choose(self.failed_on)
        if chosen is None:
            self.end()
            raise self.router.open_error(self.last_error)
        if self._pending is not None and self._pending is not chosen[0]:
            self._settle()
        return chosen

    def succeeded(self, endpoint: Endpoint, *, probe: bool) -> None:
        """The attempt on ``endpoint`` got a usable answer."""
        self.router.finished(endpoint)
        self._answered(endpoint, probe)

    def failed(self, endpoint: Endpoint, error: BackendError, *, probe: bool) -> None:
        """The attempt on ``endpoint`` failed with ``error``."""
        counted = isinstance(error, COUNTED_ERRORS)
        self.router.finished(endpoint, failed=counted)
        if not counted:  # it answered: the request was at fault, not the endpoint
            self._answered(endpoint, probe)
            return
        self.last_error = error
        self.failed_on.add(endpoint.index)
        if probe:
            endpoint.breaker.failed(error, probe=True)
            self._pending = None
        else:
            self._pending = endpoint

    def _answered(self, endpoint: Endpoint, probe: bool) -> None:
        endpoint.breaker.succeeded(probe=probe)
        if self._pending is endpoint:
            self._pending = None

    def abandoned(self, endpoint: Endpoint, *, probe: bool) -> None:
        """The attempt was cancelled: no verdict, and a probe is handed back."""
        self.router.finished(endpoint)
        if probe:
            endpoint.breaker.released()

    def has_fresh_endpoint(self) -> bool:
        """Whether a healthy endpoint this call has not failed on is there (retry at once, no wait)."""
        return any(e.index not in self.failed_on and e.breaker.available() for e in self.router.endpoints)

    def end(self) -> None:
        """The call is over: give the pending verdict."""
        self._settle()

    def _settle(self) -> None:
        endpoint, self._pending = self._pending, None
        if endpoint is not None and self.last_error is not None:
            endpoint.breaker.failed(self.last_error)


def backend_health(backend: Any) -> BackendHealth:
    """``backend.health()`` for a backend that has one (the remote ones); otherwise a backend
    without endpoints, always healthy (in-process models)."""
    report = getattr(backend, "health", None)
    if callable(report):
        return report()
    return BackendHealth(backend=backend.name, model=backend.model)


def _describe(error: BackendError | None) -> str:
    if error is None:
        return "none"
    return f"{type(error).__name__}: {error.message}"


__all__ = [
    "COUNTED_ERRORS",
    "BackendHealth",
    "BreakerState",
    "CallRoute",
    "CircuitBreaker",
    "Endpoint",
    "EndpointHealth",
    "EndpointRouter",
    "RetryBudget",
    "backend_health",
]
