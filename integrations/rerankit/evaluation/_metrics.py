"""Ranking quality with ``ranx``: nDCG, MRR, recall of a set of rankings against the qrels."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

from rerankit.evaluation._results import RankedDocument


def default_metrics(k: int) -> list[str]:
    """nDCG@10, MRR@10, Recall@10 and Recall@k (the first stage's ceiling), without duplicates.

    Args:
        k: The first-stage depth.

    Returns:
        ranx metric names.

    >>> default_metrics(100)
    ['ndcg@10', 'mrr@10', 'recall@10', 'recall@100']
    >>> default_metrics(10)
    ['ndcg@10', 'mrr@10', 'recall@10']
    """
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

    Args:
        qrels: Query id -> document id -> graded relevance.
        rankings: Query id -> the documents retrieved for it, best first.
        metrics: ranx metric names (``"ndcg@10"``, ``"mrr@10"``, ``"recall@100"``, ...).

    Returns:
        ``(means, per_query)``: metric -> mean over the queries of ``rankings``, and
        query id -> metric -> value.

    >>> from rerankit.evaluation import RankedDocument
    >>> means, _ = score_rankings({"q1": {"d1": 1}}, {"q1": [RankedDocument(id="d2", score=2.0), RankedDocument(id="d1", score=1.0)]}, ["mrr@10"])
    >>> means
    {'mrr@10': 0.5}
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
    """How a ranx metric name is printed.

    >>> metric_label("ndcg@10"), metric_label("recall@100")
    ('nDCG@10', 'Recall@100')
    """
    name, _, cutoff = metric.partition("@")
    label = {"ndcg": "nDCG", "mrr": "MRR", "recall": "Recall", "map": "MAP", "precision": "P"}.get(name, name)
    return f"{label}@{cutoff}" if cutoff else label
