"""One validated call scored on one backend, and on the fallbacks when it fails.

:class:`_RerankPlan` is a validated call (the distinct documents, where each input maps to, the cut);
:func:`_score_with_fallbacks` / :func:`_ascore_with_fallbacks` score it: the documents to score (cache,
long documents), the parts over the backend's limits (run concurrently, bounded by its
``max_concurrency``), the merge by global index, sort, threshold, cut and usage. A call whose
backend fails with one of :data:`FALLBACK_ERRORS` is scored again, whole, by the next backend; one
response never mixes scores from two backends. :class:`rerankit.Reranker` and the batch API use it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import numbers
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rerankit import _tracing
from rerankit._chunking import LongDocuments
from rerankit._documents import Document, describe, has_image, needs_fetch
from rerankit._documents_to_score import DocumentsToScore
from rerankit._errors import MalformedResponseError
from rerankit._images import ImageOptions
from rerankit._score_cache import ScoreCache
from rerankit._score_kinds import ScoreMapping
from rerankit._types import RerankResponse, RerankResult, Scores, Usage
from rerankit._validation import (
    check_document,
    check_query,
    check_score_threshold,
    check_top_n,
    document_list,
)
from rerankit.backends import _error_policy
from rerankit.backends._base import Backend, require_image_support

logger = logging.getLogger("rerankit")

#: The failures a fallback backend is tried on: the provider stayed rate-limited, down or slow, or
#: answered garbage, after its own retries, or its circuit breaker is open (nothing was sent);
#: another provider may well answer. Bad input, a request the provider rejected, bad credentials
#: and bad configuration are raised at once. Read from the error policy
#: (:mod:`rerankit.backends._error_policy`, ``falls_back``).
FALLBACK_ERRORS: tuple[type[Exception], ...] = _error_policy.FALLBACK_ERRORS


@dataclass(frozen=True)
class _RerankPlan:
    """One validated call: the distinct documents to score and where each input maps to."""

    query: str
    documents: list[Any]  # as the caller passed them: results give them back
    distinct: list[Document]
    distinct_index: list[int]  # input position -> position in ``distinct``
    top_n: int | None
    score_threshold: float | None
    long_documents: LongDocuments = field(default_factory=LongDocuments)
    cache: ScoreCache | None = None
    score_mapping: ScoreMapping = field(default_factory=ScoreMapping)

    @classmethod
    def build(
        cls,
        query: Any,
        documents: Any,
        top_n: Any,
        score_threshold: Any,
        *,
        long_documents: LongDocuments | None = None,
        cache: ScoreCache | None = None,
        images: ImageOptions | None = None,
        score_mapping: ScoreMapping | None = None,
    ) -> _RerankPlan:
        query = check_query(query)
        given = document_list(documents)
        checked = [check_document(item, index, images) for index, item in enumerate(given)]
        return cls.of_checked(
            query,
            given,
            checked,
            check_top_n(top_n),
            check_score_threshold(score_threshold),
            long_documents=long_documents,
            cache=cache,
            score_mapping=score_mapping,
        )

    @classmethod
    async def abuild(
        cls, query: Any, documents: Any, top_n: Any, score_threshold: Any, **options: Any
    ) -> _RerankPlan:
        """Async :meth:`build`: in a worker thread when documents other than texts are read (an image
        is decoded, or fetched with ``fetch_image_urls``), inline otherwise."""
        if isinstance(documents, (list, tuple)) and needs_fetch(documents):
            return await asyncio.to_thread(cls.build, query, documents, top_n, score_threshold, **options)
        return cls.build(query, documents, top_n, score_threshold, **options)

    @classmethod
    def of_checked(
        cls,
        query: str,
        given: list[Any],
        checked: list[Document],
        top_n: int | None,
        score_threshold: float | None,
        *,
        long_documents: LongDocuments | None = None,
        cache: ScoreCache | None = None,
        score_mapping: ScoreMapping | None = None,
    ) -> _RerankPlan:
        """The plan of inputs already checked: ``given`` as passed, ``checked`` their scored form."""
        first_seen: dict[Document, int] = {}
        distinct_index = [first_seen.setdefault(document, len(first_seen)) for document in checked]
        return cls(
            query,
            given,
            list(first_seen),
            distinct_index,
            top_n,
            score_threshold,
            long_documents or LongDocuments(),
            cache,
            score_mapping or ScoreMapping(),
        )

    def image_documents(self) -> list[tuple[int, Document]]:
        """``(input position, document)`` of each distinct document holding an image, first seen first."""
        seen: set[int] = set()
        found = []
        for position, distinct in enumerate(self.distinct_index):
            if distinct not in seen and has_image(self.distinct[distinct]):
                seen.add(distinct)
                found.append((position, self.distinct[distinct]))
        return found

    def units_for(self, backend: Backend) -> DocumentsToScore:
        """What ``backend`` is sent: cached documents left out, long ones cut (see DocumentsToScore).

        Raises:
            InvalidInputError: a document holds an image and the backend takes none (nothing sent).
        """
        require_image_support(backend, self.image_documents())
        return DocumentsToScore.prepare(backend, self.query, self.distinct, self.long_documents, self.cache)

    async def aunits_for(self, backend: Backend) -> DocumentsToScore:
        """Async :meth:`units_for`."""
        require_image_support(backend, self.image_documents())
        return await DocumentsToScore.aprepare(
            backend, self.query, self.distinct, self.long_documents, self.cache
        )

    def finish(
        self, units: DocumentsToScore, parts: list[list[Document]], scored: list[Scores], backend: Backend
    ) -> RerankResponse:
        """Merge the parts' scores by global index, map them (normalize, calibration), sort,
        threshold, cut and total the usage."""
        distinct_scores: list[float] = []
        usage = Usage(
            documents=len(self.documents),
            pairs_scored=len(units.texts),
            requests=len(parts),
            cache_hits=units.hits,
            cache_misses=units.misses,
        )
        for part, result in zip(parts, scored, strict=True):
            if len(result.values) != len(part):
                raise MalformedResponseError(
                    f"backend returned {len(result.values)} scores for {len(part)} documents",
                    provider=backend.name,
                )
            distinct_scores.extend(result.values)
            usage += Usage(tokens=result.usage.tokens, search_units=result.usage.search_units)
        for position, value in enumerate(distinct_scores):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise MalformedResponseError(
                    f"backend returned a non-finite or non-numeric score {value!r} "
                    f"for document {describe(units.texts[position])}",
                    provider=backend.name,
                )
        outcomes = units.collapse(distinct_scores)
        raw = [outcomes[d].score for d in self.distinct_index]
        # Ordered by the raw score: the mapping is monotone, but may merge nearby scores (an
        # isotonic step, a sigmoid saturating), and the ranking must not change with it.
        order = sorted(range(len(raw)), key=raw.__getitem__, reverse=True)
        # sorted() is stable, but reverse=True keeps stability too: equal scores stay in input order.
        scores = self.score_mapping.apply(backend, raw)
        self.score_mapping.warn_unmapped_threshold(backend, self.score_threshold)
        if self.score_threshold is not None:
            order = [i for i in order if scores[i] >= self.score_threshold]
        if self.top_n is not None:
            order = order[: self.top_n]
        results = [
            RerankResult(
                index=i,
                relevance_score=scores[i],
                document=self.documents[i],
                chunk=outcomes[self.distinct_index[i]].chunk,
            )
            for i in order
        ]
        scale = self.score_mapping.scale_for(backend)
        return RerankResponse(
            results=results,
            model=backend.model,
            backend=backend.name,
            usage=usage,
            score_kind=scale.kind if scale else None,
            score_range=scale.range if scale else None,
        )


@_tracing.traced_backend
def _score_plan(backend: Backend, plan: _RerankPlan) -> RerankResponse:
    """Score one validated call on one backend: split, run the parts (threads), merge."""
    if hasattr(backend, "load_limits"):  # limits the backend learns from its server, once
        backend.load_limits()
    units = plan.units_for(backend)
    parts = units.parts(backend.max_documents_per_request, getattr(backend, "split_request", None))
    workers = min(len(parts), max(1, backend.max_concurrency))
    score = _tracing.part_scorer(backend.score, parts)
    if workers <= 1:
        scored = [score(plan.query, part) for part in parts]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rerankit") as pool:
            scored = list(pool.map(lambda part: score(plan.query, part), parts))
    response = plan.finish(units, parts, scored, backend)
    units.remember()
    return response


@_tracing.traced_backend
async def _ascore_plan(backend: Backend, plan: _RerankPlan) -> RerankResponse:
    """Async :func:`_score_plan`: the parts run concurrently, bounded by ``max_concurrency``."""
    if hasattr(backend, "aload_limits"):
        await backend.aload_limits()
    units = await plan.aunits_for(backend)
    parts = units.parts(backend.max_documents_per_request, getattr(backend, "split_request", None))
    ascore = _tracing.apart_scorer(backend.ascore, parts)
    if len(parts) == 1:
        scored = [await ascore(plan.query, parts[0])]
    else:
        scored = await _gather_bounded([ascore(plan.query, part) for part in parts], backend.max_concurrency)
    response = plan.finish(units, parts, scored, backend)
    await units.aremember()
    return response


def _score_with_fallbacks(backends: list[Backend], plan: _RerankPlan) -> RerankResponse:
    """Score on the first backend; on one of FALLBACK_ERRORS, on the next (inside the handler,
    so the next backend's error chains to this one)."""
    backend, *rest = backends
    try:
        return _score_plan(backend, plan)
    except FALLBACK_ERRORS as error:
        if not rest:
            raise
        _log_fallback(backend, rest[0], error)
        return _score_with_fallbacks(rest, plan)


async def _ascore_with_fallbacks(backends: list[Backend], plan: _RerankPlan) -> RerankResponse:
    """Async :func:`_score_with_fallbacks`."""
    backend, *rest = backends
    try:
        return await _ascore_plan(backend, plan)
    except FALLBACK_ERRORS as error:
        if not rest:
            raise
        _log_fallback(backend, rest[0], error)
        return await _ascore_with_fallbacks(rest, plan)


def _log_fallback(failed: Backend, fallback: Backend, error: Exception) -> None:
    _tracing.fallback(failed, fallback, error)
    logger.warning(
        "rerank on %s/%s failed (%s: %s); falling back to %s/%s",
        failed.name,
        failed.model,
        type(error).__name__,
        error,
        fallback.name,
        fallback.model,
    )


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
