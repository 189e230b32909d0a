"""The retry quota: how many retries one backend may still make, so that retries cannot storm.

:class:`RetryQuota` is the AWS SDKs' *standard* retry quota, a token bucket per client, with their
figures (botocore ``botocore/retries/standard.py`` ``RetryQuotaChecker`` and ``quota.py``
``RetryQuota``; Smithy TypeScript ``packages/util-retry/src/constants.ts`` and
``defaultRetryToken.ts``; the AWS SDKs and Tools Reference Guide, "Retry behavior"):

* the bucket starts full, at 500 tokens (``INITIAL_CAPACITY = 500``);
* a retry takes 5 tokens (``_RETRY_COST = 5``), 10 after a timeout (``_TIMEOUT_RETRY_REQUEST = 10``,
  for ``ConnectTimeoutError``/``ReadTimeoutError``); a retry that finds too few tokens is not made,
  and the call ends with its last error;
* a call that succeeds gives back what its *last* retry took, or 1 token if it needed no retry
  (``_NO_RETRY_INCREMENT = 1``), never filling the bucket past 500.

So the bucket drains only while retries keep failing: under a brownout that retries fix, every
retried call that succeeds refunds its last retry and every first-time success adds a token
(at 30% transient faults a call gives back, on average, about 0.06 token more than it takes), while in an outage
nothing refunds and 500 tokens allow 100 retries in all, then none until calls succeed again.
Why this design and not Finagle's budget (what rerankit had), gRPC's throttling or Envoy's
budget: docs/reliability.md. Thread-safe; shared by a backend's sync and async calls.
"""

from __future__ import annotations

import threading

from rerankit._errors import BackendError, RerankTimeoutError

#: The bucket's size and starting level (botocore ``RetryQuota.INITIAL_CAPACITY``).
INITIAL_TOKENS = 500
#: Tokens one retry takes (botocore ``RetryQuotaChecker._RETRY_COST``).
RETRY_COST = 5
#: A retry after a timeout takes twice that (``_TIMEOUT_RETRY_REQUEST``): a timeout held a
#: connection for the whole timeout, and more of them mean an overloaded server.
TIMEOUT_COST_FACTOR = 2
#: Tokens a call that needed no retry gives back (``_NO_RETRY_INCREMENT``).
NO_RETRY_INCREMENT = 1


class RetryQuota:
    """A token bucket for one backend's retries: a retry takes tokens, a success gives some back.

    Disabled, it never refuses a retry (but still counts what it would have done).

    >>> quota = RetryQuota(tokens=12, retry_cost=5)
    >>> quota.acquire(None), quota.acquire(None), quota.acquire(None)  # 12 tokens: two retries of 5
    (5, 5, None)
    >>> quota.release(5); quota.available  # a call that succeeded on its retry gives back its cost
    7
    >>> quota.release(None); quota.available  # a first-time success adds one
    8
    """

    def __init__(self, *, tokens: int = INITIAL_TOKENS, retry_cost: int = RETRY_COST, enabled: bool = True):
        self.capacity = tokens
        self.retry_cost = retry_cost
        self.enabled = enabled
        self._available = tokens
        self._lock = threading.Lock()
        #: Retries refused since the start.
        self.denied = 0

    @property
    def available(self) -> int:
        """Tokens in the bucket now."""
        return self._available

    def cost_of(self, error: BackendError | None) -> int:
        """What a retry after ``error`` takes: twice the cost after a timeout."""
        timed_out = isinstance(error, RerankTimeoutError)
        return self.retry_cost * (TIMEOUT_COST_FACTOR if timed_out else 1)

    def acquire(self, error: BackendError | None) -> int | None:
        """Take the tokens of one retry after ``error``; the tokens taken, or ``None`` (refused)."""
        cost = self.cost_of(error)
        with self._lock:
            if cost > self._available:
                self.denied += 1
                if self.enabled:
                    return None
                return cost  # disabled: allowed, and the bucket is left as it is
            self._available -= cost
            return cost

    def release(self, last_cost: int | None) -> None:
        """A call succeeded: give back its last retry's tokens, or :data:`NO_RETRY_INCREMENT` if it
        made no retry (``last_cost`` ``None``), up to the capacity."""
        with self._lock:
            amount = NO_RETRY_INCREMENT if last_cost is None else last_cost
            self._available = min(self.capacity, self._available + amount)


__all__ = ["INITIAL_TOKENS", "NO_RETRY_INCREMENT", "RETRY_COST", "TIMEOUT_COST_FACTOR", "RetryQuota"]
