"""How pairs go into forward passes: token budgets, and merging concurrent calls (continuous batching)."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: The CPU token budget per forward pass: small enough that a 512-token pair goes in a batch of 8,
#: large enough that batches of short pairs still fill ``batch_size`` (benchmarks/local_cpu.py).
CPU_MAX_BATCH_TOKENS = 4096


def resolve_max_batch_tokens(max_batch_tokens: int | str | None, device: str) -> int | None:
    """``"auto"``: :data:`CPU_MAX_BATCH_TOKENS` on CPU, ``None`` (sentence-transformers' batching) elsewhere."""
    if max_batch_tokens != "auto":
        return max_batch_tokens  # type: ignore[return-value]
    return CPU_MAX_BATCH_TOKENS if device.startswith("cpu") else None


Request = tuple[str, Sequence[str]]


@dataclass
class _Pending:
    query: str
    texts: Sequence[str]
    future: asyncio.Future = field(repr=False)


class ConcurrentBatcher:
    """Merges the requests of concurrent ``ascore`` calls on one event loop into shared forward passes.

    A request that finds the model idle runs at once, alone. Requests that arrive while a forward
    pass runs queue up and all go into the next pass together (continuous batching, as Hugging Face
    TEI and Infinity do), where their pairs share batches cut by ``batch_size`` and
    ``max_batch_tokens``. Each caller gets back exactly its own scores, in its own order. If a merged
    pass fails, each of its requests is retried alone, so one failing request never fails another.

    Args:
        score_requests: scores a list of requests in one go (blocking; run in a worker thread) and
            returns one score list per request, in order.

    >>> batcher = ConcurrentBatcher(lambda requests: [[float(len(t)) for t in texts] for _, texts in requests])
    >>> asyncio.run(batcher.submit("query", ["a", "bbb"]))
    [1.0, 3.0]
    """

    def __init__(self, score_requests: Callable[[list[Request]], list[list[float]]]) -> None:
        self._score_requests = score_requests
        self._queue: list[_Pending] = []
        self._drainer: asyncio.Task | None = None

    async def submit(self, query: str, texts: Sequence[str]) -> list[float]:
        """Queue one request and wait for its scores (one per text, in input order)."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(query, texts, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        taken: list[_Pending] = []
        try:
            while self._queue:
                taken = [pending for pending in self._queue if not pending.future.done()]
                self._queue = []
                if taken:
                    await self._run(taken)
                taken = []
        finally:  # cancelled with the loop: nobody may wait forever
            for pending in taken + self._queue:
                if not pending.future.done():
                    pending.future.cancel()

    async def _run(self, taken: list[_Pending]) -> None:
        try:
            results = await asyncio.to_thread(self._score_requests, [(p.query, p.texts) for p in taken])
        except Exception as exc:
            if len(taken) == 1:
                _settle(taken[0], error=exc)
                return
            for pending in taken:  # find the request that failed; the others still get scores
                try:
                    alone = await asyncio.to_thread(self._score_requests, [(pending.query, pending.texts)])
                except Exception as error:
                    _settle(pending, error=error)
                else:
                    _settle(pending, values=alone[0])
            return
        for pending, values in zip(taken, results, strict=True):
            _settle(pending, values=values)


class LoopBatchers:
    """One :class:`ConcurrentBatcher` per event loop for one backend (a batcher's futures belong to
    the loop that made them); a loop that is gone takes its batcher with it.

    Args:
        score_requests: what each batcher scores a merged list of requests with (pass a lambda that
            looks up the backend's method, so that a patched or overridden one is used).
    """

    def __init__(self, score_requests: Callable[[list[Request]], list[list[float]]]) -> None:
        self._score_requests = score_requests
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ConcurrentBatcher] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def current(self) -> ConcurrentBatcher:
        """The batcher of the running event loop, made on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            batcher = self._batchers.get(loop)
            if batcher is None:
                batcher = self._batchers[loop] = ConcurrentBatcher(self._score_requests)
            return batcher


def _settle(pending: _Pending, *, values: list[float] | None = None, error: Exception | None = None) -> None:
    if pending.future.done():  # the caller was cancelled meanwhile
        return
    if error is not None:
        pending.future.set_exception(error)
    else:
        pending.future.set_result(values)


def token_budget_batches(
    lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None
) -> list[list[int]]:
    """Positions grouped into forward passes, longest first.

    Each pass holds at most ``batch_size`` items and ``max_batch_tokens`` padded tokens (items
    times the longest item's tokens), and at least one item. ``lengths`` are tokens per item.

    >>> token_budget_batches([3, 10, 4, 9], batch_size=8, max_batch_tokens=20)
    [[1, 3], [2, 0]]
    """
    budget = max_batch_tokens or len(lengths) * max(lengths, default=1)
    batches: list[list[int]] = []
    current: list[int] = []
    for position in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        width = lengths[current[0]] if current else lengths[position]
        if current and (len(current) >= batch_size or (len(current) + 1) * width > budget):
            batches.append(current)
            current = []
        current.append(position)
    if current:
        batches.append(current)
    return batches
