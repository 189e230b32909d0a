"""What the flow of a batch (:mod:`rerankit._batch`) asks for, and how each side does it.

The flow is written once and yields these actions; :func:`do` is the sync side (in the caller's
thread, per-part calls on a thread pool), :func:`ado` the async side (a shared forward pass in a
worker thread, per-part calls as tasks, at most ``max_concurrency`` at once).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rerankit import _tracing
from rerankit._documents_to_score import DocumentsToScore
from rerankit._rerank_plan import _RerankPlan
from rerankit._types import Scores
from rerankit.backends._base import Backend


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


#: What a batch's flow asks its driver to do.
Action = LoadLimits | Units | ScoreRequests | ScoreEach | Remember


# -- the two drivers -----------------------------------------------------------------------


def do(action: Action) -> Any:
    """The sync side: in the caller's thread, the per-part calls on a thread pool."""
    backend = getattr(action, "backend", None)
    if isinstance(action, LoadLimits):
        load = getattr(backend, "load_limits", None)
        return load() if load is not None else None
    if isinstance(action, Units):
        return action.plan.units_for(action.backend)
    if isinstance(action, ScoreRequests):
        return action.backend.score_requests(action.requests)  # type: ignore[attr-defined]
    if isinstance(action, ScoreEach):
        return _score_each(action.backend, action.requests)
    for unit in action.units:
        unit.remember()
    return None


async def ado(action: Action) -> Any:
    """The async side: a shared pass in a worker thread, the per-part calls as tasks."""
    backend = getattr(action, "backend", None)
    if isinstance(action, LoadLimits):
        aload = getattr(backend, "aload_limits", None)
        return await aload() if aload is not None else None
    if isinstance(action, Units):
        return await action.plan.aunits_for(action.backend)
    if isinstance(action, ScoreRequests):
        return await asyncio.to_thread(action.backend.score_requests, action.requests)  # type: ignore[attr-defined]
    if isinstance(action, ScoreEach):
        return await _ascore_each(action.backend, action.requests)
    for unit in action.units:
        await unit.aremember()
    return None


def _call(score: Any, query: str, texts: list[str]) -> Scores | Exception:
    try:
        return score(query, texts)
    except Exception as error:
        return error


def _score_each(backend: Backend, requests: list[tuple[str, list[str]]]) -> list[Scores | Exception]:
    workers = min(len(requests), max(1, backend.max_concurrency))
    score = _tracing.part_scorer(backend.score, [texts for _, texts in requests])
    if workers <= 1:
        return [_call(score, query, texts) for query, texts in requests]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rerankit-batch") as pool:
        return list(pool.map(lambda request: _call(score, *request), requests))


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


__all__ = ["Action", "LoadLimits", "Remember", "ScoreEach", "ScoreRequests", "Units", "ado", "do"]
