"""Backpressure: a bounded number of requests admitted at once, and a deadline for each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    """Every admission slot is taken: answer 429 with ``Retry-After``."""


class DeadlineExceeded(Exception):
    """A request was not answered within the server's ``request_timeout``."""


class Admission:
    """Counts the requests admitted (being scored or waiting for a forward pass) against a capacity.

    One server runs on one event loop, so the count needs no lock. A request that finds every slot
    taken is refused at once (:class:`QueueFull`), as TEI and Infinity answer 429 when their queues
    are full, instead of waiting unboundedly and timing out later.

    >>> admission = Admission(capacity=1)
    >>> with admission.slot():
    ...     admission.depth
    1
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.depth = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of the block; :class:`QueueFull` if none is free."""
        if self.depth >= self.capacity:
            raise QueueFull
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1


async def within_deadline(awaitable: Awaitable[T], seconds: float) -> T:
    """Await ``awaitable``, cancelling it after ``seconds`` with :class:`DeadlineExceeded`.

    A cancelled request still queued for a forward pass is dropped from it; one already in a pass
    finishes that pass and its scores are discarded.
    """
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError:
        raise DeadlineExceeded from None
