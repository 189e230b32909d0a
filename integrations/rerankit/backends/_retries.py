"""When a remote call tries again, how long it waits first, and the error it ends with.

One :class:`RetryPolicy` per transport builds tenacity's ``Retrying`` for each call, sync or async:
tenacity decides, and its waits are handed to the transport's flow as actions (the sync driver
sleeps them with :meth:`RetryPolicy.sleep`, the async one with :meth:`RetryPolicy.asleep`). At
most ``max_retries`` retries of what :class:`~rerankit.backends._answers.AttemptFailed` (its rule
in :mod:`rerankit.backends._error_policy`) marks retryable, never past the ``deadline``, only while some endpoint's breaker lets a request
through and the retry budget allows one; waiting ``Retry-After`` (capped by ``max_retry_wait``) or
exponential backoff with jitter, and not at all when another healthy endpoint can take the retry.
Each retry is logged on ``logging.getLogger("rerankit")``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    stop_before_delay,
    wait_exponential,
    wait_random,
)

from rerankit._errors import BackendError
from rerankit.backends._answers import AttemptFailed
from rerankit.backends._endpoints import CallEndpoints, EndpointRouter
from rerankit.backends._settings import TransportSettings

logger = logging.getLogger("rerankit")

#: How often a retry's wait checks whether every breaker has opened (then the wait ends early).
SLEEP_SLICE = 0.05


@dataclass
class CallState:
    """One transport call: its route over the endpoints, its attempts and what ended it."""

    route: CallEndpoints
    started: float
    attempts: int = 0
    #: Tokens the last retry took from the retry budget (``None``: no retry yet).
    last_retry_cost: int | None = None
    budget_denied: bool = False
    breakers_open: bool = False


class RetryPolicy:
    """The retry policy of one transport's calls (``settings``' retry options, over ``router``)."""

    def __init__(self, settings: TransportSettings, router: EndpointRouter) -> None:
        self.settings = settings
        self.router = router

    def begin(self) -> CallState:
        """The state of a new call."""
        return CallState(CallEndpoints(self.router), time.monotonic())

    def attempts(self, call: CallState, waits: list[float]) -> Retrying:
        """Tenacity's attempts for a call, sync or async: each wait before a retry is appended to
        ``waits`` instead of slept, for the caller to sleep (the flow yields it as an action)."""
        return Retrying(**self._options(call), sleep=waits.append)

    def _options(self, call: CallState) -> dict[str, Any]:
        settings = self.settings
        stops: list[Any] = [stop_after_attempt(settings.max_retries + 1)]
        if settings.deadline is not None:
            stops.append(stop_before_delay(settings.deadline))
        stops.append(partial(self._breakers_open, call))
        stops.append(partial(self._over_budget, call))  # last: asked only when a retry would follow
        return {
            "stop": stop_any(*stops),
            "wait": partial(self._wait, call),
            "retry": retry_if_exception(lambda exc: isinstance(exc, AttemptFailed) and exc.retryable),
            "before_sleep": partial(self._log_retry, call),
            "reraise": True,
        }

    def _breakers_open(self, call: CallState, retry_state: RetryCallState) -> bool:
        call.breakers_open = not self.router.any_available()
        return call.breakers_open

    def _over_budget(self, call: CallState, retry_state: RetryCallState) -> bool:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        error = failure.error if isinstance(failure, AttemptFailed) else None
        cost = self.router.budget.acquire(error)
        if cost is not None:
            call.last_retry_cost = cost
            return False
        call.budget_denied = True
        return True

    def succeeded(self, call: CallState) -> None:
        """The call got its answer: it gives the retry budget back its last retry's tokens (or one)."""
        self.router.budget.release(call.last_retry_cost)

    def _wait(self, call: CallState, retry_state: RetryCallState) -> float:
        if call.route.has_fresh_endpoint():
            return 0.0  # another healthy endpoint: its Retry-After and backoff do not apply
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        cap = self.settings.max_retry_wait
        if isinstance(failure, AttemptFailed) and failure.retry_after is not None:
            return min(failure.retry_after, cap)
        base = self.settings.backoff_base
        backoff = wait_exponential(multiplier=base, max=cap) + wait_random(0, base)
        return min(backoff(retry_state), cap)

    def sleep(self, seconds: float) -> None:
        """Wait before a retry; stop waiting when every endpoint's breaker opens (the retry then
        fails at once with :class:`CircuitOpenError`)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and self.router.any_available():
            time.sleep(min(left, SLEEP_SLICE))

    async def asleep(self, seconds: float) -> None:
        """Async :meth:`sleep`."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and self.router.any_available():
            await asyncio.sleep(min(left, SLEEP_SLICE))

    def _log_retry(self, call: CallState, retry_state: RetryCallState) -> None:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if not isinstance(failure, AttemptFailed):  # pragma: no cover - only AttemptFailed is retried
            return
        error, wait = failure.error, retry_state.upcoming_sleep
        logger.warning(
            "%s: %s on attempt %d of %d, retrying in %.2f s%s%s",
            self.settings.provider,
            failure.reason,
            retry_state.attempt_number,
            self.settings.max_retries + 1,
            wait,
            " on another endpoint"
            if len(self.router.endpoints) > 1 and call.route.has_fresh_endpoint()
            else "",
            f" (request id {error.request_id})" if error.request_id else "",
            extra={"provider": self.settings.provider, "status_code": error.status_code, "retry_wait": wait},
        )

    def final_error(self, failure: AttemptFailed, call: CallState) -> BackendError:
        """The error a call that failed with ``failure`` raises: as it is when it was not worth
        retrying; else with the attempts made (and why retrying stopped), or the open-circuit error."""
        error = failure.error
        if not failure.retryable:
            return error
        if call.breakers_open:  # this failure (or others meanwhile) opened every breaker
            return self.router.open_error(error)
        # Retries ran out (or the deadline or the retry budget left no room for another).
        attempts = call.attempts
        why = "; retry budget exhausted" if call.budget_denied else ""
        return type(error)(
            f"{error.message} (gave up after {attempts} attempt{'s' if attempts != 1 else ''}{why})",
            provider=error.provider,
            status_code=error.status_code,
            request_id=error.request_id,
        )


__all__ = ["SLEEP_SLICE", "CallState", "RetryPolicy"]
