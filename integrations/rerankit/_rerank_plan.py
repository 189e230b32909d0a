"""One validated call scored on one backend, and on the fallbacks when it fails.

:class:`_RerankPlan` is a validated call (the distinct documents, where each input maps to, the cut);
:func:`rerank_flow` is the call, written once as a flow (:mod:`rerankit._flow`) that
``Reranker.rerank`` drives with :func:`rerankit._score_io.do` and ``arerank`` with
:func:`~rerankit._score_io.ado`: validate it (:class:`PlanOptions` say how), then the documents to
score (cache, long documents), the parts over the backend's limits (run concurrently, bounded by its
``max_concurrency``), the merge by global index, sort, threshold, cut and usage. A call whose
backend fails with one of :data:`FALLBACK_ERRORS` is scored again, whole, by the next backend; one
response never mixes scores from two backends. The batch API uses the plan too.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Any

from rerankit import _score_io as io
from rerankit import _tracing
from rerankit._chunking import LongDocuments
from rerankit._documents import Document, describe, has_image, needs_fetch
from rerankit._documents_to_score import DocumentsToScore
from rerankit._errors import MalformedResponseError
from rerankit._flow import Flow
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
class PlanOptions:
    """What a :class:`~rerankit.Reranker` applies to every call it plans, single or batch."""

    long_documents: LongDocuments = field(default_factory=LongDocuments)
    cache: ScoreCache | None = None
    images: ImageOptions | None = None  # None: the default limits
    score_mapping: ScoreMapping = field(default_factory=ScoreMapping)


@dataclass(frozen=True)
class _RerankPlan:
    """One validated call: the distinct documents to score and where each input maps to."""

    query: str
    documents: list[Any]  # as the caller passed them: results give them back
    distinct: list[Document]
    distinct_index: list[int]  # input position -> position in ``distinct``
    top_n: int | None
    score_threshold: float | None
    options: PlanOptions = field(default_factory=PlanOptions)

    @classmethod
    def build(
        cls, query: Any, documents: Any, top_n: Any, score_threshold: Any, options: PlanOptions
    ) -> _RerankPlan:
        """The plan of one call's raw input; each check raises InvalidInputError."""
        query = check_query(query)
        given = document_list(documents)
        checked = [check_document(item, index, options.images) for index, item in enumerate(given)]
        return cls.of_checked(
            query, given, checked, check_top_n(top_n), check_score_threshold(score_threshold), options
        )

    @classmethod
    def of_checked(
        cls,
        query: str,
        given: list[Any],
        checked: list[Document],
        top_n: int | None,
        score_threshold: float | None,
        options: PlanOptions,
    ) -> _RerankPlan:
        """The plan of inputs already checked: ``given`` as passed, ``checked`` their scored form."""
        first_seen: dict[Document, int] = {}
        distinct_index = [first_seen.setdefault(document, len(first_seen)) for document in checked]
        return cls(query, given, list(first_seen), distinct_index, top_n, score_threshold, options)

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
        options = self.options
        return DocumentsToScore.prepare(
            backend, self.query, self.distinct, options.long_documents, options.cache
        )

    def units_block(self, backend: Backend) -> bool:
        """Whether :meth:`units_for` is worth a worker thread on an event loop (DocumentsToScore.blocks)."""
        return DocumentsToScore.blocks(
            backend, self.distinct, self.options.long_documents, self.options.cache
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
        score_mapping = self.options.score_mapping
        scores = score_mapping.apply(backend, raw)
        score_mapping.warn_unmapped_threshold(backend, self.score_threshold)
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
        scale = score_mapping.scale_for(backend)
        return RerankResponse(
            results=results,
            model=backend.model,
            backend=backend.name,
            usage=usage,
            score_kind=scale.kind if scale else None,
            score_range=scale.range if scale else None,
        )


def rerank_flow(
    backends: list[Backend],
    query: Any,
    documents: Any,
    top_n: Any,
    score_threshold: Any,
    options: PlanOptions,
) -> Flow[io.Action, RerankResponse]:
    """One rerank call: validate it, score it on the first backend and, on one of FALLBACK_ERRORS,
    on the next; the last error is raised, chained (``__context__``) to the one before."""
    handled = sys.exc_info()[1]  # what the caller is handling, if anything: where chains end
    reads_images = isinstance(documents, (list, tuple)) and needs_fetch(documents)
    check = functools.partial(_RerankPlan.build, query, documents, top_n, score_threshold, options)
    plan: _RerankPlan = yield io.Validate(check, reads_images)
    previous: BaseException | None = None
    for index, backend in enumerate(backends):
        try:
            return (yield from _scored_on(backend, plan))
        except BaseException as error:
            _chain(error, previous, handled)
            if index + 1 == len(backends) or not isinstance(error, FALLBACK_ERRORS):
                raise
            _log_fallback(backend, backends[index + 1], error)
            previous = error
    raise AssertionError("a Reranker has at least one backend")  # pragma: no cover


def _scored_on(backend: Backend, plan: _RerankPlan) -> Flow[io.Action, RerankResponse]:
    """Score one validated call on one backend: split, run the parts, merge, cache."""
    with _tracing.backend_span(backend):
        yield io.LoadLimits(backend)  # limits the backend learns from its server, once
        units: DocumentsToScore = yield io.Units(backend, plan)
        parts = units.parts(backend.max_documents_per_request, getattr(backend, "split_request", None))
        scored = yield io.ScoreParts(backend, plan.query, parts)
        response = plan.finish(units, parts, scored, backend)
        yield io.Remember([units])
    return response


def _chain(error: BaseException, previous: BaseException | None, handled: BaseException | None) -> None:
    """Chain ``error`` to ``previous``, the error of the backend before, as if raised while handling it.

    The flow's errors are raised in its driver, where ``previous`` is not being handled, so their
    chain ends where the caller's does (``handled``, mostly ``None``); that end is linked to
    ``previous`` instead, keeping whatever the backend chained in between (an httpx error, say).
    """
    link, seen = error, set()
    while previous is not None and link is not previous and id(link) not in seen:
        seen.add(id(link))
        context = link.__context__
        if context is None or context is handled:
            link.__context__ = previous
            return
        link = context


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
