"""``rerankit eval``: BM25 then each reranker on BEIR data; JSON, table and plot."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rerankit.evaluation import DEMO_DATA, load_beir


def ndcg_at_10(ranked_ids: list[str], judged: dict[str, int]) -> float:
    gains = [judged.get(doc_id, 0) for doc_id in ranked_ids[:10]]
    dcg = sum(gain / math.log2(position + 2) for position, gain in enumerate(gains))
    ideal = sorted((grade for grade in judged.values() if grade > 0), reverse=True)[:10]
    return dcg / sum(gain / math.log2(position + 2) for position, gain in enumerate(ideal))


def test_eval_json_has_both_stages_with_sane_numbers(demo_eval_run, minilm_spec):
    payload = demo_eval_run["json"]
    bm25, reranked = payload["first_stage"], payload["rerankers"][0]
    assert (bm25["name"], reranked["name"]) == ("bm25", minilm_spec)
    assert payload["k"] == 10 and payload["queries"] == len(load_beir(DEMO_DATA).queries)
    assert payload["metrics"] == ["ndcg@10", "mrr@10", "recall@10"]
    for system in (bm25, reranked):
        assert all(0.0 <= value <= 1.0 for value in system["metrics"].values())
        assert 0 < system["latency"]["p50_ms"] <= system["latency"]["p95_ms"]
    candidates = sum(len(ranked) for ranked in bm25["rankings"].values())
    assert reranked["usage"]["documents"] == candidates
    assert reranked["usage"]["requests"] == payload["queries"]
    assert reranked["documents_per_second"] > 0
    # reordering the same ten candidates cannot change how many relevant ones are among them
    assert reranked["metrics"]["recall@10"] == pytest.approx(bm25["metrics"]["recall@10"])


def test_eval_ndcg_matches_an_independent_computation(demo_eval_run):
    payload = demo_eval_run["json"]
    qrels = load_beir(DEMO_DATA).qrels
    for system in (payload["first_stage"], payload["rerankers"][0]):
        per_query = []
        for query_id, ranked in system["rankings"].items():
            expected = ndcg_at_10([doc["id"] for doc in ranked], qrels[query_id])
            assert system["per_query"][query_id]["ndcg@10"] == pytest.approx(expected)
            per_query.append(expected)
        assert system["metrics"]["ndcg@10"] == pytest.approx(sum(per_query) / len(per_query))


def test_the_shipped_bi_encoder_beats_bm25_on_the_demo_corpus(demo_eval_run):
    """The demo corpus is written so that meaning matters: a semantic reranker must fix BM25's mistakes."""
    payload = demo_eval_run["json"]
    before = payload["first_stage"]["metrics"]
    after = payload["rerankers"][0]["metrics"]
    assert after["ndcg@10"] > before["ndcg@10"] + 0.15
    assert after["mrr@10"] > before["mrr@10"] + 0.15


def test_eval_plot_is_a_png(demo_eval_run):
    assert demo_eval_run["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {demo_eval_run['plot']}" in demo_eval_run["stderr"]


def test_eval_table_compares_systems_side_by_side(cli, tiny_models: dict[str, Path]):
    first, second = f"local/{tiny_models['bert']}", f"local/{tiny_models['bert2']}"
    result = cli(
        "eval", first, second, "--data", str(DEMO_DATA), "--k", "5", "--max-queries", "4",
        "-o", "local:device=cpu", "-o", "embedding:similarity=jaccard",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for text in ("bm25", first, second, "nDCG@10", "MRR@10", "Recall@10", "Recall@5", "p95 ms", "not billed"):
        assert text in result.stdout


def test_eval_applies_unscoped_options_to_every_spec(cli, bert_model: Path):
    result = cli("eval", f"local/{bert_model}", "--data", str(DEMO_DATA), "-o", "similarity=dot")
    assert result.exit_code == 1
    assert "unknown option(s) 'similarity' for backend 'local'" in result.stderr


def test_eval_names_bad_data(cli, bert_model: Path, tmp_path: Path):
    result = cli("eval", f"local/{bert_model}", "--data", str(tmp_path))
    assert result.exit_code == 1
    assert "corpus.jsonl not found" in result.stderr
