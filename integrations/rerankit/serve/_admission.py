"""Admission: work-based and deadline-aware, so that an overloaded server keeps its goodput.

The unit of work is a (query, document) pair (identical documents in a request count once, as the
core scores them once). :class:`Admission` keeps the pairs admitted and not yet answered, the
server's measured throughput (:class:`~rerankit.serve._throughput.ThroughputMeter`, pairs per
busy second) and a first-in first-out queue in front of the model:

* **refuse early** (429 with a ``Retry-After`` from the estimate): a request whose estimated
  answer time, the pairs ahead of it and its own at the measured throughput, exceeds
  :data:`ADMIT_SHARE` of the server's deadline is refused at once, before it costs anything, as
  Triton's dynamic batcher refuses work that cannot be served in time and TEI bounds its queue by
  tokens (``--max-batch-tokens`` × ``--max-concurrent-requests``), not by requests; ``max_queue``
  still bounds the number of requests;
* **dispatch a little at a time**: admitted requests wait here and reach the model only while the
  pairs in service stay within :data:`DISPATCH_S` seconds of work (one request at a time until
  a throughput is measured), so that forward passes stay short; a request that times out (504)
  or whose client leaves while it waits here is dropped before it is ever scored, and one already
  sent to a local model but not yet in a forward pass is dropped from it
  (:class:`~rerankit.backends._local._batching.ConcurrentBatcher`);
* **shed what can no longer make it**: when the throughput falls (or is first measured), a
  waiting request whose estimated answer time now passes its deadline is answered 429 at once
  instead of 504 later.

Refusing at the door was chosen over CoDel-style shedding of the oldest ("Fail at Scale"): a
reranker's cost is known from the request itself (its pairs) before any work, so the server can
say at once what it cannot do in time, and a client told 429 with ``Retry-After`` can go to
another replica while it still has time; CoDel infers the same from queueing delay after the
fact, once requests have already waited. Admitted requests are served in arrival order, and the
estimate leaves half the deadline as margin for its own error, so they are answered in time.
One server runs on one event loop: no lock is needed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rerankit.serve._throughput import ThroughputMeter

T = TypeVar("T")

#: Share of the deadline an admitted request's estimated answer time may take; the rest is margin
#: for the estimate's error (a slower forward pass, longer documents than the recent ones).
ADMIT_SHARE = 0.5
#: Seconds of work (at the measured throughput) let into the model at once: enough that merged
#: forward passes stay full, little enough that a request cancelled while waiting costs nothing.
DISPATCH_S = 1.0


class Overloaded(Exception):
    """The request cannot be answered in time (or the queue is full): answer 429 with ``Retry-After``."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class DeadlineExceeded(Exception):
    """A request was not answered within the server's ``request_timeout``."""


@dataclass(eq=False)
class _Ticket:
    pairs: int
    deadline_at: float
    turn: asyncio.Future = field(repr=False)  # set when dispatched, or failed with Overloaded


class Admission:
    """Admits requests by their work against the measured throughput and the deadline.

    Args:
        max_queue: most requests admitted at once (waiting or being scored).
        deadline: the seconds a request may take from admission to answer (``request_timeout``).
        retry_after: the ``Retry-After`` of a refusal when no estimate is at hand (a full queue).
        clock: monotonic seconds (a fake one in tests).

    >>> admission = Admission(max_queue=4, deadline=30.0)
    >>> async def score():
    ...     return await admission.run(16, lambda: asyncio.sleep(0, result="scored"))
    >>> asyncio.run(score()), admission.depth
    ('scored', 0)
    """

    def __init__(
        self,
        *,
        max_queue: int,
        deadline: float,
        retry_after: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_queue = max_queue
        self.deadline = deadline
        self.retry_after = retry_after
        self._clock = clock
        self.throughput = ThroughputMeter(clock=clock)
        self._waiting: deque[_Ticket] = deque()
        self.waiting_pairs = 0
        self.in_service = 0
        self.in_service_pairs = 0
        #: requests refused at once, and admitted ones shed before their turn, since the start
        self.refused = 0
        self.shed = 0

    @property
    def depth(self) -> int:
        """Requests admitted and not yet answered (waiting or being scored)."""
        return len(self._waiting) + self.in_service

    @property
    def queued_pairs(self) -> int:
        """Pairs admitted and not yet answered."""
        return self.waiting_pairs + self.in_service_pairs

    def estimated_wait(self, pairs: int = 0) -> float | None:
        """Seconds until ``pairs`` more would be answered, at the measured throughput; ``None``
        before anything was measured."""
        rate = self.throughput.rate
        if rate is None:
            return None
        return (self.queued_pairs + pairs) / rate

    async def run(self, pairs: int, work: Callable[[], Awaitable[T]]) -> T:
        """Admit a request of ``pairs`` pairs, wait for its turn, then await ``work()``.

        Raises:
            Overloaded: at once when it cannot be answered within the deadline or the queue is
                full; while waiting, when the throughput fell so that it no longer can.
        """
        ticket = self._admit(pairs)
        try:
            await ticket.turn
        except BaseException:
            if ticket in self._waiting:  # cancelled while waiting (deadline, disconnect): never scored
                self._waiting.remove(ticket)
                self.waiting_pairs -= ticket.pairs
            elif ticket.turn.done() and not ticket.turn.cancelled() and ticket.turn.exception() is None:
                self._leave_service(ticket, scored=False)  # dispatched as it was cancelled
            raise
        try:
            result = await work()
        except BaseException:
            self._leave_service(ticket, scored=False)
            raise
        self._leave_service(ticket, scored=True)
        return result

    def _admit(self, pairs: int) -> _Ticket:
        if self.depth >= self.max_queue:
            self.refused += 1
            raise Overloaded(
                f"the server is busy: {self.depth} requests are queued; retry after {self.retry_after} s",
                self.retry_after,
            )
        wait = self.estimated_wait(pairs)
        budget = self.deadline * ADMIT_SHARE
        if wait is not None and wait > budget and self.depth > 0:
            self.refused += 1
            raise Overloaded(self._busy_message(wait), self._retry_after(wait - budget))
        loop = asyncio.get_running_loop()
        ticket = _Ticket(pairs, self._clock() + self.deadline, loop.create_future())
        self._waiting.append(ticket)
        self.waiting_pairs += pairs
        self._dispatch()
        return ticket

    def _dispatch(self) -> None:
        """Let waiting requests into service, in order, while the work in service allows; shed
        those that can no longer be answered in time."""
        self._shed_late()
        rate = self.throughput.rate
        window = 0.0 if rate is None else rate * DISPATCH_S
        while self._waiting:
            head = self._waiting[0]
            if self.in_service and self.in_service_pairs + head.pairs > window:
                return
            self._waiting.popleft()
            self.waiting_pairs -= head.pairs
            if head.turn.done():  # cancelled meanwhile
                continue
            self.in_service += 1
            self.in_service_pairs += head.pairs
            self.throughput.started()
            head.turn.set_result(None)

    def _shed_late(self) -> None:
        rate = self.throughput.rate
        if rate is None or not self._waiting:
            return
        now, ahead, kept = self._clock(), self.in_service_pairs, deque()
        for ticket in self._waiting:
            finish = now + (ahead + ticket.pairs) / rate
            # only what waits behind other work is shed: with nothing ahead, it goes next anyway
            if ahead and finish > ticket.deadline_at and not ticket.turn.done():
                self.shed += 1
                self.waiting_pairs -= ticket.pairs
                wait = (ahead + ticket.pairs) / rate
                ticket.turn.set_exception(
                    Overloaded(self._busy_message(wait), self._retry_after(finish - ticket.deadline_at))
                )
                continue
            ahead += ticket.pairs
            kept.append(ticket)
        self._waiting = kept

    def _leave_service(self, ticket: _Ticket, *, scored: bool) -> None:
        self.in_service -= 1
        self.in_service_pairs -= ticket.pairs
        if scored:
            self.throughput.scored(ticket.pairs)
        self.throughput.finished()
        self._dispatch()

    def _busy_message(self, wait: float) -> str:
        return (
            f"the server is busy: {self.queued_pairs} pairs are queued, about {wait:.1f} s of work, "
            f"more than it can answer within its {self.deadline:g} s deadline; retry later"
        )

    @staticmethod
    def _retry_after(seconds: float) -> int:
        """Whole seconds (``Retry-After`` takes no fraction), at least 1."""
        return max(1, math.ceil(seconds))


async def within_deadline(awaitable: Awaitable[T], seconds: float) -> T:
    """Await ``awaitable``, cancelling it after ``seconds`` with :class:`DeadlineExceeded`.

    A request cancelled while it waits for its turn is never scored; one sent to a local model and
    still queued for a forward pass is dropped from it; one already in a pass finishes that pass
    and its scores are discarded.
    """
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError:
        raise DeadlineExceeded from None


__all__ = ["ADMIT_SHARE", "DISPATCH_S", "Admission", "DeadlineExceeded", "Overloaded", "within_deadline"]
