"""The endpoints of one remote backend: which one a request goes to, and their health.

A remote backend has one or more endpoints (``base_url=[url, ...]``: replicas of a server, or regional
addresses of an API). :class:`EndpointRouter` sends each request to the healthy endpoint with the
fewest requests in flight, ties broken at random (Envoy's least-request balancer), and keeps per
endpoint a :class:`~rerankit.backends._breaker.CircuitBreaker` and its connection pools (owned by
:mod:`rerankit.backends._clients`).
:class:`CallEndpoints` follows one call (one part of a rerank) over its attempts: a retry goes to
another healthy endpoint when there is one (as LiteLLM's retry "can land on a different
deployment"), and when no endpoint is left the call fails at once with
:class:`~rerankit.CircuitOpenError`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, SecretStr

from rerankit._errors import (
    BackendError,
    CircuitOpenError,
)
from rerankit.backends._breaker import (
    COUNTED_ERRORS,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    Clock,
    describe_error,
)
from rerankit.backends._retry_quota import RetryQuota

if TYPE_CHECKING:  # _clients imports this module; at run time the annotations stay strings
    import httpx

    from rerankit.backends._clients import LoopPools

logger = logging.getLogger("rerankit")


class Endpoint:
    """One address of a backend: its breaker, counters, and the connection pools the transport
    opens for it (``client``, ``pools``)."""

    def __init__(self, index: int, url: str, api_key: SecretStr | None, breaker: CircuitBreaker) -> None:
        self.index = index
        self.url = url
        self.api_key = api_key
        self.breaker = breaker
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        #: The pooled sync client, opened by :mod:`rerankit.backends._clients` on first use.
        self.client: httpx.Client | None = None
        #: The async pools of the event loop that last used this endpoint.
        self.pools: LoopPools | None = None

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
    #: Tokens left in the retry budget (the retry quota) and its size; retries it refused since the start.
    budget_tokens: int = 0
    budget_capacity: int = 0
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
        breakers: BreakerSettings,
        budget: RetryQuota,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.budget = budget
        self.breaker_enabled = breakers.circuit_breaker
        self.endpoints = [
            Endpoint(
                index,
                url,
                key,
                CircuitBreaker(f"{provider} at {url}", breakers, clock=clock, rng=self._rng.random),
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
            f"was sent (last error: {describe_error(last_error)}); next try in {retry_in:.1f} s "
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
            seen = breaker.snapshot()
            state, until, error = seen.state, seen.open_until, seen.last_error
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
                    consecutive_failures=seen.consecutive_failures,
                    in_flight=endpoint.in_flight,
                    last_error=describe_error(error) if error is not None else None,
                )
            )
        return BackendHealth(
            backend=self.provider,
            model=model,
            endpoints=endpoints,
            circuit_breaker=self.breaker_enabled,
            budget_tokens=self.budget.available,
            budget_capacity=self.budget.capacity,
            budget_denied=self.budget.denied,
        )


class CallEndpoints:
    """One call's way over the endpoints, attempt by attempt, and what it tells their breakers.

    Each attempt's outcome goes to its endpoint's breaker at once (the breaker counts attempts), so
    an outage opens it while the calls in flight are still retrying, and their retries stop.
    """

    def __init__(self, router: EndpointRouter) -> None:
        self.router = router
        self.failed_on: set[int] = set()
        self.last_error: BackendError | None = None

    def start(self) -> tuple[Endpoint, bool]:
        """The endpoint for this attempt; :class:`CircuitOpenError` when none is available."""
        chosen = self.router.choose(self.failed_on)
        if chosen is None:
            raise self.router.open_error(self.last_error)
        return chosen

    def succeeded(self, endpoint: Endpoint, *, probe: bool) -> None:
        """The attempt on ``endpoint`` got a usable answer."""
        self.router.finished(endpoint)
        endpoint.breaker.succeeded(probe=probe)

    def failed(self, endpoint: Endpoint, error: BackendError, *, probe: bool) -> None:
        """The attempt on ``endpoint`` failed with ``error``."""
        counted = isinstance(error, COUNTED_ERRORS)
        self.router.finished(endpoint, failed=counted)
        if not counted:  # it answered: the request was at fault, not the endpoint
            endpoint.breaker.succeeded(probe=probe)
            return
        self.last_error = error
        self.failed_on.add(endpoint.index)
        endpoint.breaker.failed(error, probe=probe)

    def abandoned(self, endpoint: Endpoint, *, probe: bool) -> None:
        """The attempt was cancelled: no verdict, and a probe is handed back."""
        self.router.finished(endpoint)
        if probe:
            endpoint.breaker.released()

    def has_fresh_endpoint(self) -> bool:
        """Whether a healthy endpoint this call has not failed on is there (retry at once, no wait)."""
        return any(e.index not in self.failed_on and e.breaker.available() for e in self.router.endpoints)


def backend_health(backend: Any) -> BackendHealth:
    """``backend.health()`` for a backend that has one (the remote ones); otherwise a backend
    without endpoints, always healthy (in-process models)."""
    report = getattr(backend, "health", None)
    if callable(report):
        return report()
    return BackendHealth(backend=backend.name, model=backend.model)


__all__ = [
    "COUNTED_ERRORS",
    "BackendHealth",
    "BreakerState",
    "CallEndpoints",
    "CircuitBreaker",
    "Clock",
    "Endpoint",
    "EndpointHealth",
    "EndpointRouter",
    "RetryQuota",
    "backend_health",
]
