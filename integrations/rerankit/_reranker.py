"""The scoring core every caller goes through: :class:`Reranker`.

``Reranker`` validates the call, scores each distinct document once, splits the distinct
documents over the backend's per-request limit, runs the parts concurrently (bounded by the
backend's ``max_concurrency``), merges them back by global index, sorts best first (ties keep
input order), applies ``score_threshold`` and then ``top_n``, and totals the usage.

With ``fallbacks``, a call whose backend fails with an error another backend may not share
(:data:`FALLBACK_ERRORS`, raised after the backend's own retries) is scored again, whole, by the
next backend; one response never mixes scores from two backends. The scoring path itself lives in
:mod:`rerankit._rerank_plan`, the batch API in :mod:`rerankit._batch`: each is written once, as a
flow (:mod:`rerankit._flow`) that the sync methods drive with :func:`rerankit._score_io.do` and the
async ones with :func:`~rerankit._score_io.ado`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

from rerankit import _score_io as io
from rerankit import _tracing
from rerankit._batch import batch_flow
from rerankit._calibration import Calibration, calibration_from
from rerankit._chunking import LongDocumentOptions, long_documents_from, require_token_windows
from rerankit._errors import ConfigurationError
from rerankit._flow import Flow, arun, run
from rerankit._images import ImageOptions
from rerankit._rerank_plan import FALLBACK_ERRORS as FALLBACK_ERRORS  # public here, as before
from rerankit._rerank_plan import PlanOptions, rerank_flow
from rerankit._score_cache import ScoreCache, backend_fingerprint, make_score_cache
from rerankit._score_kinds import ScoreMapping, ScoreScale
from rerankit._types import RerankResponse
from rerankit.backends import create_backend
from rerankit.backends._base import Backend
from rerankit.backends._endpoints import BackendHealth, backend_health


class Reranker:
    """Rerank documents for a query through any backend.

    ``model`` is a spec string ``"<backend>/<model id>"`` (``local/BAAI/bge-reranker-base``,
    ``local//abs/path``, ``cohere/rerank-v3.5``, ``gateway/cohere/rerank-v3.5``, ...) with the
    backend's options as keywords, or a ready :class:`~rerankit.backends._base.Backend`.

    >>> reranker = Reranker("local/cross-encoder/ms-marco-MiniLM-L6-v2")  # doctest: +SKIP
    >>> response = reranker.rerank("what is BM25?", ["a ranking function", "a fruit"], top_n=1)  # doctest: +SKIP
    >>> response.results[0].index, response.results[0].relevance_score  # doctest: +SKIP
    (0, 0.97...)

    A hosted API is one spec away; here a loopback server that speaks Cohere's format stands in for
    ``api.cohere.com`` (without ``base_url`` and ``api_key`` the backend uses Cohere's address and
    the ``COHERE_API_KEY`` environment variable):

    >>> from rerankit.testing.servers import RerankServer
    >>> cohere = RerankServer("cohere").start()
    >>> reranker = Reranker("cohere/rerank-v3.5", base_url=cohere.base_url, api_key="test-key")
    >>> reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"], top_n=1).results[0].index
    1

    ``fallbacks`` are tried in order when a call fails with one of :data:`FALLBACK_ERRORS` after
    the backend's own retries. Here Cohere answers 503 to everything and Jina takes over:

    >>> jina = RerankServer("jina").start()
    >>> down = RerankServer("cohere", fault_rate=1.0, faults=["503"]).start()
    >>> reranker = Reranker(
    ...     "cohere/rerank-v3.5", base_url=down.base_url, api_key="test-key", max_retries=0,
    ...     fallbacks=[Reranker("jina/jina-reranker-v2-base-multilingual", base_url=jina.base_url, api_key="test-key")],
    ... )
    >>> reranker.rerank("what is BM25?", ["a ranking function", "a fruit"]).backend
    'jina'
    >>> for server in (cohere, jina, down):
    ...     server.stop()

    ``long_documents="chunk"`` scores every window of a document longer than the model's window
    (``chunk_overlap`` tokens shared by neighbours, at most ``max_chunks`` windows, ``None``: all)
    and gives it its best window's score; ``result.chunk`` names that window
    (docs/long-documents.md). The default ``"truncate"`` cuts it at the window, as the model
    does (for a remote provider that rejects long documents, rerankit cuts it client-side).
    ``cache`` keeps scores across calls: ``True`` (an in-memory LRU of 100,000 entries), a
    number of entries, ``"redis://host:port/db"`` (shared by replicas) or a ScoreCache; cached
    documents are not sent and ``usage.cache_hits``/``cache_misses`` count them (docs/cache.md):

    >>> reranker = Reranker("local/BAAI/bge-reranker-base", long_documents="chunk", cache=True)  # doctest: +SKIP
    >>> reranker.rerank("capital of France?", [long_report]).results[0].chunk  # doctest: +SKIP
    ChunkSpan(index=3, start=5120, end=6840)

    Every backend declares what its score is (``response.score_kind``: a probability, a logit, a
    similarity, ...; docs/scores.md). The default is the model authors' raw score;
    ``normalize=True`` maps it to 0-1 by the family's own documented normalization (the sigmoid
    of a cross-encoder's logit, ...), and ``calibration="calibration.json"`` (written by
    ``rerankit calibrate``) to P(relevant) fitted on labelled data. Either way the ranking is
    unchanged and ``score_threshold`` applies to the mapped score:

    >>> reranker = Reranker("local/cross-encoder/ms-marco-MiniLM-L6-v2", normalize=True)  # doctest: +SKIP
    >>> reranker.rerank("what is BM25?", ["a ranking function"]).score_kind  # doctest: +SKIP
    'probability'

    Args:
        model: A spec string ``"<backend>/<model id>"``, or a ready
            :class:`~rerankit.backends._base.Backend` (then no ``options`` may be given).
        fallbacks: What to try, in order, when a call fails with one of :data:`FALLBACK_ERRORS`:
            spec strings (built without options, so keys and addresses come from the
            environment), ready Backends, or Rerankers (their backend and fallbacks, in order).
            Defaults to ``None``: no fallback.
        long_documents: ``"truncate"`` (default) or ``"chunk"``: how a document longer than the
            model's window is scored (docs/long-documents.md).
        chunk_overlap: With ``"chunk"``, the tokens neighbouring windows share. Defaults to 32.
        max_chunks: With ``"chunk"``, the most windows scored per document. Defaults to ``None``:
            all of them.
        cache: Keep scores across calls: ``True``, a number of entries, ``"redis://host:port/db"``
            or a :class:`~rerankit.ScoreCache`. Defaults to ``None``: no cache (docs/cache.md).
        fetch_image_urls: Fetch image documents given by http(s) URL. Defaults to ``False``: such
            a document is refused, so a document cannot make the process fetch an address
            (docs/multimodal.md).
        max_image_bytes: The largest image file accepted, fetched or not. Defaults to 20,000,000.
        max_image_pixels: The most pixels an image may have. Defaults to 40,000,000.
        image_fetch_timeout: Seconds one image URL fetch may take. Defaults to 10.
        normalize: Map every score to 0-1 by its family's documented normalization, keeping the
            order; refused for a kind that has none (similarity, reciprocal rank). Defaults to
            ``False``: the raw score (docs/scores.md).
        calibration: A calibration fitted by ``rerankit calibrate``: its file's path, a
            :class:`~rerankit.Calibration` or its dict; scores become P(relevant). Refused when
            fitted for another backend, model or score. Defaults to ``None``.
        trace_content: Whether the OpenTelemetry spans of a call record the query and the
            documents' text (with OpenTelemetry installed, docs/observability.md); keys never.
            Defaults to ``False``: indices, scores, counts and timings only.
        **options: The backend's options (``api_key``, ``base_url``, ``timeout``, ``device``,
            ...); each backend's page lists them. An unknown option is refused by name.

    Raises:
        ConfigurationError: The spec names no known backend, an option is unknown to the backend,
            options were given with a ready Backend, ``fallbacks`` is not a list, an image
            limit breaks its rule, ``normalize`` names a kind with no normalization, or
            ``calibration`` does not fit a backend.

    Attributes:
        backend: The backend tried first.
        fallbacks: The backends tried after it, in order (a Reranker given as a fallback
            contributes all of its backends).
    """

    def __init__(
        self,
        model: str | Backend,
        *,
        fallbacks: Sequence[str | Backend | Reranker] | None = None,
        long_documents: str = LongDocumentOptions.default("long_documents"),
        chunk_overlap: int = LongDocumentOptions.default("chunk_overlap"),
        max_chunks: int | None = LongDocumentOptions.default("max_chunks"),
        cache: bool | int | str | ScoreCache | None = None,
        fetch_image_urls: bool = ImageOptions.default("fetch_image_urls"),
        max_image_bytes: int = ImageOptions.default("max_image_bytes"),
        max_image_pixels: int = ImageOptions.default("max_image_pixels"),
        image_fetch_timeout: float = ImageOptions.default("image_fetch_timeout"),
        normalize: bool = False,
        calibration: str | Path | Calibration | dict[str, Any] | None = None,
        trace_content: bool = False,
        **options: Any,
    ) -> None:
        if not isinstance(trace_content, bool):
            raise ConfigurationError(f"trace_content must be True or False, got {trace_content!r}")
        #: Whether the call's spans record the query and the documents' text (docs/observability.md).
        self.trace_content = trace_content
        #: The limits on image documents (docs/multimodal.md).
        self.images = ImageOptions.validated(
            {
                "fetch_image_urls": fetch_image_urls,
                "max_image_bytes": max_image_bytes,
                "max_image_pixels": max_image_pixels,
                "image_fetch_timeout": image_fetch_timeout,
            }
        )
        #: How documents longer than the model's window are scored (docs/long-documents.md).
        self.long_documents = long_documents_from(long_documents, chunk_overlap, max_chunks)
        #: Scores kept across calls (docs/cache.md); ``None`` without ``cache``.
        self.cache: ScoreCache | None = make_score_cache(cache)
        self.backend: Backend = _resolve_backend(model, options, role="model")
        if self.cache is not None:  # a backend whose scores cannot be cached is refused here, not mid-call
            backend_fingerprint(self.backend)
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
        if self.long_documents.chunked:
            for backend in self.backends:
                require_token_windows(backend)
        #: What happens to raw scores before the threshold: nothing, normalize or calibration.
        self.score_mapping = ScoreMapping(normalize=normalize, calibration=calibration_from(calibration))
        self.score_mapping.check(self.backends)

    @property
    def score_scale(self) -> ScoreScale | None:
        """The scale of this reranker's scores: the first backend's, normalized or calibrated as
        configured; ``None`` when the backend declares none (docs/scores.md)."""
        return self.score_mapping.scale_for(self.backend)

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

    @_tracing.traced_call("rerank")
    def rerank(
        self,
        query: str,
        documents: Sequence[Any],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> RerankResponse:
        """Score ``documents`` against ``query`` and return them best first.

        ``score_threshold`` drops results scoring below it (after ``normalize``/``calibration``),
        then ``top_n`` keeps the best ``top_n``
        (``None``: all). Identical documents are scored once and every input is still listed.
        If the backend fails with one of :data:`FALLBACK_ERRORS` the fallbacks are tried in order;
        ``response.backend``/``response.model`` name the one that answered. When all fail, the last
        error is raised, chained (``__context__``) to the one before.

        Args:
            query: The query; a non-blank string.
            documents: What to rank, in any order; a non-empty sequence of documents: non-blank
                strings, or, for a backend that takes images, :class:`~rerankit.Image`, PIL images
                or lists of text and image parts (docs/multimodal.md).
            top_n: How many results to return, best first; at least 1. Defaults to ``None``: all.
            score_threshold: The lowest score kept, on the scale of ``response.score_kind``;
                applied before ``top_n``. Defaults to ``None``: no threshold.

        Returns:
            The results best first (ties keep input order), each with its input ``index``, its
            ``relevance_score`` (a Python float) and its ``document``; the ``model`` and
            ``backend`` that answered; ``score_kind``/``score_range``; and the ``usage`` totals.

        Raises:
            InvalidInputError: The query, a document (the message names its index), ``top_n`` or
                ``score_threshold`` is invalid; nothing was sent.
            BackendError: The backend (and every fallback) failed: a subclass says how
                (``RateLimitError``, ``ServerError``, ``RerankTimeoutError``,
                ``AuthenticationError``, ``InvalidRequestError``, ``MalformedResponseError``).
        """
        flow = rerank_flow(self.backends, query, documents, top_n, score_threshold, self._options())
        return run(flow, io.do)

    @_tracing.traced_call("arerank")
    async def arerank(
        self,
        query: str,
        documents: Sequence[Any],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> RerankResponse:
        """Async :meth:`rerank`, with the same results; the parts of a split run concurrently.

        Args:
            query: The query; a non-blank string.
            documents: The texts to rank; a non-empty sequence of non-blank strings.
            top_n: How many results to return, best first. Defaults to ``None``: all.
            score_threshold: The lowest score kept; applied before ``top_n``. Defaults to ``None``.

        Returns:
            The same :class:`~rerankit.RerankResponse` :meth:`rerank` returns.

        Raises:
            InvalidInputError: The input is invalid; nothing was sent.
            BackendError: The backend and every fallback failed.
        """
        flow = rerank_flow(self.backends, query, documents, top_n, score_threshold, self._options())
        return await arun(flow, io.ado)  # what blocks (images, tokenizing) runs in a worker thread

    def _options(self) -> PlanOptions:
        """What every call applies, read from the attributes at each call."""
        return PlanOptions(self.long_documents, self.cache, self.images, self.score_mapping)

    def health(self) -> list[BackendHealth]:
        """The state of the backend and each fallback, in the order they are tried: per endpoint the
        circuit breaker (closed, open until when, half-open), requests, failures and in-flight
        count, and the retry budget (see docs/reliability.md). Holds no secrets.

        >>> [(h.backend, h.healthy) for h in Reranker("cohere/rerank-v3.5", api_key="k").health()]
        [('cohere', True)]
        """
        return [backend_health(backend) for backend in self.backends]

    @_tracing.traced_call("rerank_batch")
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
        flow = self._batch_flow(queries, documents, top_n, score_threshold, return_exceptions)
        return run(flow, io.do)

    @_tracing.traced_call("arerank_batch")
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
        flow = self._batch_flow(queries, documents, top_n, score_threshold, return_exceptions)
        return await arun(flow, io.ado)  # what blocks (images, a shared forward pass) in a worker thread

    def _batch_flow(
        self, queries: Any, documents: Any, top_n: Any, score_threshold: Any, return_exceptions: bool
    ) -> Flow[io.Action, list[Any]]:
        options = self._options()
        return batch_flow(
            self.backends, queries, documents, top_n, score_threshold, return_exceptions, options
        )

    def close(self) -> None:
        """Release the resources (pooled connections) of the backend and every fallback.

        Every backend is closed even if closing one fails; that error is raised afterwards. A
        Reranker is also a context manager (``with Reranker(...) as reranker:``, and ``async with``)
        that closes it on exit.
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
