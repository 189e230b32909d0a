"""What the core's scoring flows ask for, and how each side does it.

A rerank call (:mod:`rerankit._rerank_plan`) and a batch (:mod:`rerankit._batch`) are each written
once, as a flow (:mod:`rerankit._flow`) that yields these actions; :func:`do` is the sync side (in
the caller's thread, per-part calls on a thread pool), :func:`ado` the async side (work that
blocks in a worker thread, per-part calls as tasks, at most ``max_concurrency`` at once). The two
sides differ only here, where the I/O is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from rerankit import _tracing
from rerankit._documents_to_score import DocumentsToScore
from rerankit._types import Scores
from rerankit.backends._base import Backend

if TYPE_CHECKING:  # the plan's module drives its flow with this one
    from rerankit._documents import Document
    from rerankit._rerank_plan import _RerankPlan

Item = TypeVar("Item")


@dataclass(frozen=True)
class Validate:
    """Check a call's input (``check()``, which returns the plan); the async side runs it in a
    worker thread when it reads documents other than texts (decodes, or fetches, images)."""

    check: Callable[[], Any]
    reads_images: bool


@dataclass(frozen=True)
class LoadLimits:
    """Let the backend learn its server's limits (TEI's ``/info``), if it has any to learn."""

    backend: Backend


@dataclass(frozen=True)
class Units:
    """A call's documents to score on the backend (cache lookups, long documents)."""

    backend: Backend
    plan: _RerankPlan


@dataclass(frozen=True)
class ScoreParts:
    """One call's parts, one ``score`` call each, concurrently: their scores, or the first failure
    (raised; on the async side the parts still running are cancelled)."""

    backend: Backend
    query: str
    parts: list[list[Document]]


@dataclass(frozen=True)
class ScoreRequests:
    """One shared ``score_requests`` call (its scores, or its failure)."""

    backend: Backend
    requests: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class ScoreEach:
    """One ``score`` call per request, concurrently (the scores or the error of each; never raises)."""

    backend: Backend
    requests: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class Remember:
    """Write these units' scores to the cache."""

    units: list[DocumentsToScore]


#: What a scoring flow asks its driver to do.
Action = Validate | LoadLimits | Units | ScoreParts | ScoreRequests | ScoreEach | Remember


# -- the two drivers -----------------------------------------------------------------------


def do(action: Action) -> Any:
    """The sync side: in the caller's thread, the per-part calls on a thread pool."""
    backend = getattr(action, "backend", None)
    if isinstance(action, Validate):
        return action.check()
    if isinstance(action, LoadLimits):
        load = getattr(backend, "load_limits", None)
        return load() if load is not None else None
    if isinstance(action, Units):
        return action.plan.units_for(action.backend)
    if isinstance(action, ScoreParts):
        return _score_parts(action.backend, action.query, action.parts)
    if isinstance(action, ScoreRequests):
        return action.backend.score_requests(action.requests)  # type: ignore[attr-defined]
    if isinstance(action, ScoreEach):
        return _score_each(action.backend, action.requests)
    for unit in action.units:
        unit.remember()
    return None


async def ado(action: Action) -> Any:
    """The async side: what blocks in a worker thread, the per-part calls as tasks."""
    backend = getattr(action, "backend", None)
    if isinstance(action, Validate):
        return await asyncio.to_thread(action.check) if action.reads_images else action.check()
    if isinstance(action, LoadLimits):
        aload = getattr(backend, "aload_limits", None)
        return await aload() if aload is not None else None
    if isinstance(action, Units):
        if action.plan.units_block(action.backend):  # tokenizing, or a remote cache: off the loop
            return await asyncio.to_thread(action.plan.units_for, action.backend)
        return action.plan.units_for(action.backend)  # a thread hop costs more than the work
    if isinstance(action, ScoreParts):
        return await _ascore_parts(action.backend, action.query, action.parts)
    if isinstance(action, ScoreRequests):
        return await asyncio.to_thread(action.backend.score_requests, action.requests)  # type: ignore[attr-defined]
    if isinstance(action, ScoreEach):
        return await _ascore_each(action.backend, action.requests)
    for unit in action.units:
        await unit.aremember()
    return None


def _on_pool(backend: Backend, items: Sequence[Item], call: Callable[[Item], Any], prefix: str) -> list[Any]:
    """``call`` on each item: in this thread, or on a pool of at most ``max_concurrency`` threads."""
    workers = min(len(items), max(1, backend.max_concurrency))
    if workers <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix) as pool:
        return list(pool.map(call, items))


def _score_parts(backend: Backend, query: str, parts: list[list[Document]]) -> list[Scores]:
    score = _tracing.part_scorer(backend.score, parts)
    return _on_pool(backend, parts, lambda part: score(query, part), "rerankit")


async def _ascore_parts(backend: Backend, query: str, parts: list[list[Document]]) -> list[Scores]:
    ascore = _tracing.apart_scorer(backend.ascore, parts)
    if len(parts) == 1:
        return [await ascore(query, parts[0])]
    return await _gather_bounded([ascore(query, part) for part in parts], backend.max_concurrency)


def _call(score: Any, query: str, texts: list[str]) -> Scores | Exception:
    try:
        return score(query, texts)
    except Exception as error:
        return error


def _score_each(backend: Backend, requests: list[tuple[str, list[str]]]) -> list[Scores | Exception]:
    score = _tracing.part_scorer(backend.score, [texts for _, texts in requests])
    return _on_pool(backend, requests, lambda request: _call(score, *request), "rerankit-batch")


async def _ascore_each(backend: Backend, requests: list[tuple[str, list[str]]]) -> list[Scores | Exception]:
    semaphore = asyncio.Semaphore(max(1, backend.max_concurrency))
    ascore = _tracing.apart_scorer(backend.ascore, [texts for _, texts in requests])

    async def bounded(query: str, texts: list[str]) -> Scores | Exception:
        async with semaphore:
            try:
                return await ascore(query, texts)
            except Exception as error:
                return error

    return list(await asyncio.gather(*(bounded(query, texts) for query, texts in requests)))


async def _gather_bounded(coroutines: list, limit: int) -> list:
    """Run coroutines with at most ``limit`` in flight; on the first failure cancel the rest."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def bounded(coroutine):
        async with semaphore:
            return await coroutine

    tasks = [asyncio.ensure_future(bounded(coroutine)) for coroutine in coroutines]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for coroutine in coroutines:
            coroutine.close()  # a part cancelled before it started was never awaited: no warning
        raise


__all__ = [
    "Action",
    "LoadLimits",
    "Remember",
    "ScoreEach",
    "ScoreParts",
    "ScoreRequests",
    "Units",
    "Validate",
    "ado",
    "do",
]
