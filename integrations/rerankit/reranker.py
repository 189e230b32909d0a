"""The scoring core every caller goes through.

``Reranker`` validates the call, scores each distinct document once, splits the distinct
documents over the backend's per-request limit, runs the parts concurrently (bounded by the
backend's ``max_concurrency``), merges them back by global index, sorts best first (ties keep
input order), applies ``score_threshold`` and then ``top_n``, and totals the usage.
"""

from __future__ import annotations

import asyncio
import math
import numbers
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rerankit.backends import create_backend
from rerankit.backends.base import Backend
from rerankit.errors import ConfigurationError, MalformedResponseError
from rerankit.types import RerankResponse, RerankResult, Scores, Usage
from rerankit.validation import check_documents, check_query, check_score_threshold, check_top_n


@dataclass(frozen=True)
class _Plan:
    """One validated call: the distinct texts to score and where each input maps to."""

    query: str
    documents: list[str]
    distinct: list[str]
    distinct_index: list[int]  # input position -> position in ``distinct``
    top_n: int | None
    score_threshold: float | None

    @classmethod
    def build(cls, query: Any, documents: Any, top_n: Any, score_threshold: Any) -> _Plan:
        query = check_query(query)
        documents = check_documents(documents)
        top_n = check_top_n(top_n)
        score_threshold = check_score_threshold(score_threshold)
        first_seen: dict[str, int] = {}
        distinct_index = [first_seen.setdefault(text, len(first_seen)) for text in documents]
        return cls(query, documents, list(first_seen), distinct_index, top_n, score_threshold)

    def parts(self, limit: int | None) -> list[list[str]]:
        """The distinct texts cut into requests of at most ``limit`` texts."""
        if not limit or len(self.distinct) <= limit:
            return [self.distinct]
        return [self.distinct[start : start + limit] for start in range(0, len(self.distinct), limit)]

    def finish(self, parts: list[list[str]], scored: list[Scores], backend: Backend) -> RerankResponse:
        """Merge the parts' scores by global index, sort, threshold, cut and total the usage."""
        distinct_scores: list[float] = []
        usage = Usage(documents=len(self.documents), pairs_scored=len(self.distinct), requests=len(parts))
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
                    f"for document {self.distinct[position][:40]!r}",
                    provider=backend.name,
                )
        scores = [float(distinct_scores[d]) for d in self.distinct_index]
        order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
        # sorted() is stable, but reverse=True keeps stability too: equal scores stay in input order.
        if self.score_threshold is not None:
            order = [i for i in order if scores[i] >= self.score_threshold]
        if self.top_n is not None:
            order = order[: self.top_n]
        results = [
            RerankResult(index=i, relevance_score=scores[i], document=self.documents[i]) for i in order
        ]
        return RerankResponse(results=results, model=backend.model, backend=backend.name, usage=usage)


class Reranker:
    """Rerank documents for a query through any backend.

    ``model`` is a spec string ``"<backend>/<model id>"`` (``local/BAAI/bge-reranker-base``,
    ``local//abs/path``, ``cohere/rerank-v3.5``, ``gateway/cohere/rerank-v3.5``, ...) with the
    backend's options as keywords, or a ready :class:`~rerankit.backends.base.Backend`.

    >>> reranker = Reranker("local/cross-encoder/ms-marco-MiniLM-L6-v2")  # doctest: +SKIP
    >>> response = reranker.rerank("what is BM25?", ["a ranking function", "a fruit"], top_n=1)  # doctest: +SKIP
    >>> response.results[0].index, response.results[0].relevance_score  # doctest: +SKIP
    (0, 0.97...)
    """

    def __init__(self, model: str | Backend, **options: Any) -> None:
        if isinstance(model, str):
            self.backend: Backend = create_backend(model, options)
        elif isinstance(model, Backend):
            if options:
                raise ConfigurationError(
                    f"options {sorted(options)} cannot be applied to a ready backend instance; "
                    "configure the backend itself"
                )
            self.backend = model
        else:
            raise ConfigurationError(
                f"model must be a spec string like 'local/<model id>' or a Backend, got {type(model).__name__}"
            )

    @property
    def model(self) -> str:
        """The model id the backend scores with."""
        return self.backend.model

    def __repr__(self) -> str:
        return f"Reranker({self.backend!r})"

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> RerankResponse:
        """Score ``documents`` against ``query`` and return them best first.

        ``score_threshold`` drops results scoring below it, then ``top_n`` keeps the best ``top_n``
        (``None``: all). Identical documents are scored once and every input is still listed.
        """
        plan = _Plan.build(query, documents, top_n, score_threshold)
        parts = plan.parts(self.backend.max_documents_per_request)
        workers = min(len(parts), max(1, self.backend.max_concurrency))
        if workers == 1:
            scored = [self.backend.score(plan.query, part) for part in parts]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rerankit") as pool:
                scored = list(pool.map(lambda part: self.backend.score(plan.query, part), parts))
        return plan.finish(parts, scored, self.backend)

    async def arerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> RerankResponse:
        """Async :meth:`rerank`, with the same results; the parts of a split run concurrently."""
        plan = _Plan.build(query, documents, top_n, score_threshold)
        parts = plan.parts(self.backend.max_documents_per_request)
        if len(parts) == 1:
            scored = [await self.backend.ascore(plan.query, parts[0])]
        else:
            scored = await _gather_bounded(
                [self.backend.ascore(plan.query, part) for part in parts], self.backend.max_concurrency
            )
        return plan.finish(parts, scored, self.backend)

    def close(self) -> None:
        """Release the backend's resources (pooled connections)."""
        self.backend.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        await self.backend.aclose()

    def __enter__(self) -> Reranker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Reranker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


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
        raise
