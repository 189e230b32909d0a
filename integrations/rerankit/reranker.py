"""The scoring core every caller goes through.

``Reranker`` validates the call, scores each distinct document once, splits the distinct
documents over the backend's per-request limit, runs the parts concurrently (bounded by the
backend's ``max_concurrency``), merges them back by global index, sorts best first (ties keep
input order), applies ``score_threshold`` and then ``top_n``, and totals the usage.

With ``fallbacks``, a call whose backend fails with an error another backend may not share
(:data:`FALLBACK_ERRORS`, raised after the backend's own retries) is scored again, whole, by the
next backend; one response never mixes scores from two backends.
"""

from __future__ import annotations

import asyncio
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from typing import Any

from rerankit.backends import create_backend
from rerankit.backends.base import Backend
from rerankit.errors import (
    ConfigurationError,
    MalformedResponseError,
    RateLimitError,
    RerankTimeoutError,
    ServerError,
)
from rerankit.types import RerankResponse, RerankResult, Scores, Usage
from rerankit.validation import check_documents, check_query, check_score_threshold, check_top_n

logger = logging.getLogger("rerankit")

#: The failures a fallback backend is tried on: the provider stayed rate-limited, down or slow, or
#: answered garbage, after its own retries; another provider may well answer. Bad input, a request
#: the provider rejected, bad credentials and bad configuration are raised at once: they are the
#: caller's to fix, and a fallback would only hide them.
FALLBACK_ERRORS: tuple[type[Exception], ...] = (
    RateLimitError,
    ServerError,
    RerankTimeoutError,
    MalformedResponseError,
)


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

    ``fallbacks`` are tried in order when a call fails with one of :data:`FALLBACK_ERRORS` after
    the backend's own retries. Each is a spec string (built without options: keys and addresses
    come from the environment), a ready Backend, or a Reranker (its backends, fallbacks included):

    >>> reranker = Reranker(
    ...     "cohere/rerank-v3.5", api_key=cohere_key,
    ...     fallbacks=[Reranker("jina/jina-reranker-v2-base-multilingual", api_key=jina_key)],
    ... )  # doctest: +SKIP
    >>> reranker.rerank("what is BM25?", ["a ranking function", "a fruit"]).backend  # doctest: +SKIP
    'jina'
    """

    def __init__(
        self,
        model: str | Backend,
        *,
        fallbacks: Sequence[str | Backend | Reranker] | None = None,
        **options: Any,
    ) -> None:
        self.backend: Backend = _resolve_backend(model, options, role="model")
        if isinstance(fallbacks, (str, Backend, Reranker)):
            raise ConfigurationError(
                f"fallbacks must be a list of spec strings, Backends or Rerankers, got one "
                f"{type(fallbacks).__name__}; wrap it in a list"
            )
        #: The backends tried, in order, when the one before fails with one of FALLBACK_ERRORS.
        self.fallbacks: list[Backend] = [
            backend
            for fallback in fallbacks or ()
            for backend in (
                fallback.backends
                if isinstance(fallback, Reranker)
                else [_resolve_backend(fallback, {}, role="fallback")]
            )
        ]

    @property
    def backends(self) -> list[Backend]:
        """The backend and then its fallbacks, in the order they are tried."""
        return [self.backend, *self.fallbacks]

    @property
    def model(self) -> str:
        """The model id the (first) backend scores with."""
        return self.backend.model

    def __deepcopy__(self, memo: dict[int, Any]) -> Reranker:
        """A reranker is shared, not copied: it holds pooled connections, locks and loaded models.

        So a deep copy of anything holding one (a LangChain compressor, a LlamaIndex postprocessor,
        a pydantic ``model_copy(deep=True)``) shares the same reranker and keeps working.
        """
        return self

    def __repr__(self) -> str:
        if self.fallbacks:
            return f"Reranker({self.backend!r}, fallbacks={self.fallbacks!r})"
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
        If the backend fails with one of :data:`FALLBACK_ERRORS` the fallbacks are tried in order;
        ``response.backend``/``response.model`` name the one that answered. When all fail, the last
        error is raised, chained (``__context__``) to the one before.
        """
        plan = _Plan.build(query, documents, top_n, score_threshold)
        return _score_with_fallbacks(self.backends, plan)

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
        return await _ascore_with_fallbacks(self.backends, plan)

    def rerank_batch(
        self,
        queries: Sequence[str],
        documents: Sequence[Sequence[str]],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
        return_exceptions: bool = False,
    ) -> list[RerankResponse]:
        """Rerank many queries, each with its own documents, in one call.

        The i-th response is what ``rerank(queries[i], documents[i], top_n=..., score_threshold=...)``
        returns. A local model scores the pairs of all items in shared forward passes; a remote
        backend gets the items' calls concurrently, at most ``max_concurrency`` at once.

        >>> responses = reranker.rerank_batch(["what is bm25", "capital of France"],
        ...                                   [["a ranking function", "a fruit"], ["Paris", "Rome"]])  # doctest: +SKIP
        >>> [r.results[0].index for r in responses]  # doctest: +SKIP
        [0, 0]

        Args:
            queries: one query per item.
            documents: one list of documents per item, as long as ``queries``.
            top_n: keep the best ``top_n`` of each item. Defaults to None (all).
            score_threshold: drop each item's results scoring below it. Defaults to None.
            return_exceptions: as in ``asyncio.gather``: a failed item's slot holds its exception
                instead of failing the batch. Defaults to False.

        Returns:
            One :class:`RerankResponse` per item, in input order (or an exception, see above).

        Raises:
            InvalidInputError: the containers or options are invalid, or (without
                ``return_exceptions``) an item is, named by position: ``documents[3][7]: ...``.
            RerankError: an item failed on every backend (without ``return_exceptions``); the
                message starts with ``item <i>:``.
        """
        from rerankit import _batch  # the batch module builds on this one

        items = _batch.plan_batch(queries, documents, top_n, score_threshold)
        if not return_exceptions and any(item.outcome is not None for item in items):
            return _batch.results_of(items, return_exceptions)  # raises: nothing is scored
        _batch.score_batch(self.backends, items)
        return _batch.results_of(items, return_exceptions)

    async def arerank_batch(
        self,
        queries: Sequence[str],
        documents: Sequence[Sequence[str]],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
        return_exceptions: bool = False,
    ) -> list[RerankResponse]:
        """Async :meth:`rerank_batch`, with the same results; a local model runs in a worker thread."""
        from rerankit import _batch

        items = _batch.plan_batch(queries, documents, top_n, score_threshold)
        if not return_exceptions and any(item.outcome is not None for item in items):
            return _batch.results_of(items, return_exceptions)
        await _batch.ascore_batch(self.backends, items)
        return _batch.results_of(items, return_exceptions)

    def close(self) -> None:
        """Release the resources (pooled connections) of the backend and every fallback.

        Every backend is closed even if closing one fails; that error is raised afterwards.
        """
        with ExitStack() as stack:
            for backend in self.backends:
                stack.callback(backend.close)

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        async with AsyncExitStack() as stack:
            for backend in self.backends:
                stack.push_async_callback(backend.aclose)

    def __enter__(self) -> Reranker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Reranker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _resolve_backend(model: Any, options: dict[str, Any], *, role: str) -> Backend:
    """The backend a spec string names (built with ``options``), or a ready Backend as is."""
    if isinstance(model, str):
        return create_backend(model, options)
    if isinstance(model, Backend):
        if options:
            raise ConfigurationError(
                f"options {sorted(options)} cannot be applied to a ready backend instance; "
                "configure the backend itself"
            )
        return model
    raise ConfigurationError(
        f"{role} must be a spec string like 'local/<model id>' or a Backend"
        f"{' or a Reranker' if role == 'fallback' else ''}, got {type(model).__name__}"
    )


def _score_plan(backend: Backend, plan: _Plan) -> RerankResponse:
    """Score one validated call on one backend: split, run the parts (threads), merge."""
    parts = plan.parts(backend.max_documents_per_request)
    workers = min(len(parts), max(1, backend.max_concurrency))
    if workers == 1:
        scored = [backend.score(plan.query, part) for part in parts]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rerankit") as pool:
            scored = list(pool.map(lambda part: backend.score(plan.query, part), parts))
    return plan.finish(parts, scored, backend)


async def _ascore_plan(backend: Backend, plan: _Plan) -> RerankResponse:
    """Async :func:`_score_plan`: the parts run concurrently, bounded by ``max_concurrency``."""
    parts = plan.parts(backend.max_documents_per_request)
    if len(parts) == 1:
        scored = [await backend.ascore(plan.query, parts[0])]
    else:
        scored = await _gather_bounded(
            [backend.ascore(plan.query, part) for part in parts], backend.max_concurrency
        )
    return plan.finish(parts, scored, backend)


def check_reranker_arguments(owner: str, model: object, reranker: object, options: Mapping[str, Any]) -> None:
    """How an adapter (``owner``) is given its reranker: a ready ``reranker=Reranker(...)``, or a
    ``model`` spec with backend options; anything else is a :class:`ConfigurationError`."""
    if reranker is None:
        if model is None:
            raise ConfigurationError(
                f"{owner} needs a model spec (model='cohere/rerank-v3.5') or reranker=Reranker(...)"
            )
        return
    if model is not None or options:
        given = ["model"] * (model is not None) + sorted(options)
        raise ConfigurationError(
            "pass either reranker=Reranker(...) or a model spec with its options, not both "
            f"(got reranker and {', '.join(given)})"
        )
    if not isinstance(reranker, Reranker):
        raise ConfigurationError(f"reranker must be a rerankit.Reranker, got {type(reranker).__name__}")


def _score_with_fallbacks(backends: list[Backend], plan: _Plan) -> RerankResponse:
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


async def _ascore_with_fallbacks(backends: list[Backend], plan: _Plan) -> RerankResponse:
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
        raise
