"""The local cross-encoder backend against bare ``CrossEncoder.predict`` on offline checkpoints."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
import sentence_transformers
import torch
from sentence_transformers import CrossEncoder

from rerankit import ConfigurationError, Reranker
from rerankit.backends import LocalCrossEncoder
from rerankit.backends._local import _cache
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._devices import resolve_dtype

QUERY = "how does a cross-encoder rerank passages"
DOCS = [
    "A cross-encoder reads the query and the passage together and outputs one relevance score.",
    "Paris is the capital of France.",
    "BM25 ranks documents by term frequency and inverse document frequency, " * 3,
    "Rerankers are slower than bi-encoders but more accurate.",
    "short",
    "日本語のテキストとEnglish text mixed together in one passage.",
]


def pairs(query: str = QUERY, documents: list[str] = DOCS) -> list[tuple[str, str]]:
    return [(query, d) for d in documents]


def scores_by_index(response) -> np.ndarray:
    out = np.empty(len(response.results))
    for result in response.results:
        out[result.index] = result.relevance_score
    return out


@pytest.mark.parametrize("name", ["bert", "xlmr"])
def test_one_label_scores_equal_predict_with_sigmoid(tiny_models: dict[str, Path], name: str) -> None:
    path = tiny_models[name]
    expected = CrossEncoder(str(path)).predict(pairs())
    response = Reranker(f"local/{path}").rerank(QUERY, DOCS)
    np.testing.assert_allclose(scores_by_index(response), expected, rtol=0, atol=1e-6)
    assert all(type(r.relevance_score) is float for r in response.results)
    assert np.ptp(expected) > 1e-4  # the tiny model really tells the documents apart
    assert [r.index for r in response.results] == list(np.argsort(-expected, kind="stable"))


def test_two_logit_model_gives_the_positive_class_probability(tiny_models: dict[str, Path]) -> None:
    path = tiny_models["bert2"]
    probabilities = CrossEncoder(str(path)).predict(pairs(), apply_softmax=True)
    assert probabilities.shape == (len(DOCS), 2)
    response = Reranker(f"local/{path}").rerank(QUERY, DOCS)
    np.testing.assert_allclose(scores_by_index(response), probabilities[:, 1], atol=1e-6)


def test_qwen3_llm_reranker_scores_equal_the_model_card_with_and_without_instruction(
    tiny_models: dict[str, Path],
) -> None:
    # A checkpoint with a pair-aware chat template keeps sentence-transformers' LogitScore setup;
    # its scores are held to the model card's recipe (tests/llm_references.py), not to predict().
    from tests.llm_references import qwen3_reference

    path = str(tiny_models["qwen3"])
    assert LocalCrossEncoder(path).is_llm_reranker
    response = Reranker(f"local/{path}").rerank(QUERY, DOCS)
    np.testing.assert_allclose(scores_by_index(response), qwen3_reference(Path(path), pairs()), atol=1e-4)
    instruction = "Given a question about cooking, find recipes"
    instructed = Reranker(f"local/{path}", instruction=instruction).rerank(QUERY, DOCS)
    expected = qwen3_reference(Path(path), pairs(), instruction)
    np.testing.assert_allclose(scores_by_index(instructed), expected, atol=1e-4)
    assert not np.allclose(scores_by_index(instructed), scores_by_index(response))


def test_real_size_minilm_equals_predict(minilm_model: Path) -> None:
    documents = [f"{DOCS[i % len(DOCS)]} variant {i}" for i in range(40)]
    expected = CrossEncoder(str(minilm_model)).predict(pairs(documents=documents))
    response = Reranker(f"local/{minilm_model}").rerank(QUERY, documents)
    np.testing.assert_allclose(scores_by_index(response), expected, atol=1e-5)


def test_the_document_is_truncated_never_the_query(bert_model: Path) -> None:
    long_document = "retrieval " * 200
    base = "alpha beta gamma delta epsilon zeta"
    reranker = Reranker(f"local/{bert_model}", max_length=16)
    first = reranker.rerank(f"{base} one", [long_document]).results[0].relevance_score
    second = reranker.rerank(f"{base} two", [long_document]).results[0].relevance_score
    assert first != second, "the queries differ only in their last word, which must survive"
    # Documents that agree on the tokens that fit score the same: the tail was cut.
    cut = reranker.rerank(base, [long_document, long_document + " and a different ending"])
    # Two rows of one batch agree to float rounding; keeping the tail would move a score far more.
    assert cut.results[0].relevance_score == pytest.approx(cut.results[1].relevance_score, abs=1e-6)
    # sentence-transformers' default (longest_first) would have cut the query instead.
    bare = CrossEncoder(str(bert_model), max_length=16)
    assert bare.predict([(f"{base} one", long_document)])[0] == pytest.approx(
        bare.predict([(f"{base} two", long_document)])[0]
    )


def test_a_query_longer_than_max_length_still_scores(bert_model: Path, caplog) -> None:
    reranker = Reranker(f"local/{bert_model}", max_length=16)
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        response = reranker.rerank("very long query " * 30, ["doc one", "doc two"])
    assert len(response.results) == 2
    assert "does not fit max_length" in caplog.text


def test_duplicates_are_scored_once_with_the_same_score(bert_model: Path) -> None:
    documents = [DOCS[0], DOCS[1], DOCS[0], DOCS[0]]
    response = Reranker(f"local/{bert_model}").rerank(QUERY, documents)
    assert response.usage.pairs_scored == 2 and response.usage.documents == 4
    scores = scores_by_index(response)
    assert scores[0] == scores[2] == scores[3]


async def test_arerank_matches_rerank_and_never_blocks_the_event_loop(minilm_model: Path) -> None:
    reranker = Reranker(f"local/{minilm_model}", batch_size=8)
    documents = [f"{DOCS[i % len(DOCS)]} number {i}" for i in range(96)]
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    response = await reranker.arerank(QUERY, documents, top_n=10)
    done.set()
    await ticking
    assert ticks > 5, "the event loop was blocked during the forward pass"
    assert response == reranker.rerank(QUERY, documents, top_n=10)


def test_a_model_is_loaded_once_per_process_per_settings(bert_model: Path) -> None:
    MODEL_CACHE.clear()
    backends: list[LocalCrossEncoder] = []

    def build() -> None:
        backends.append(LocalCrossEncoder(str(bert_model)))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(b.cross_encoder) for b in backends}) == 1
    other = LocalCrossEncoder(str(bert_model), max_length=32)
    assert other.cross_encoder is not backends[0].cross_encoder
    assert len(MODEL_CACHE) == 2


def test_the_model_cache_is_bounded() -> None:
    cache = _cache.ModelCache(maxsize=2)
    for key in "abc":
        cache.get(key, lambda key=key: key.upper())
    assert len(cache) == 2
    assert cache.get("a", lambda: "reloaded") == "reloaded"  # "a" was evicted first


def test_device_and_dtype_resolution(monkeypatch: pytest.MonkeyPatch, bert_model: Path) -> None:
    backend = LocalCrossEncoder(str(bert_model))
    assert backend.device == "cpu" and backend.dtype == "float32"  # no GPU here
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda:1") == "float16"
    assert resolve_dtype("bf16", "cpu") == "bfloat16"
    with pytest.raises(ConfigurationError, match="unknown dtype 'int3'"):
        resolve_dtype("int3", "cpu")


def test_explicit_half_precision_scores_are_floats_close_to_fp32(bert_model: Path) -> None:
    full = scores_by_index(Reranker(f"local/{bert_model}").rerank(QUERY, DOCS))
    half = Reranker(f"local/{bert_model}", dtype="bfloat16")
    assert next(half.backend.cross_encoder.parameters()).dtype == torch.bfloat16
    response = half.rerank(QUERY, DOCS)
    assert all(type(r.relevance_score) is float for r in response.results)
    np.testing.assert_allclose(scores_by_index(response), full, atol=2e-2)
    # The activation ran in fp32: the scores are not rounded to bfloat16's 8-bit mantissa.
    values = torch.tensor([r.relevance_score for r in response.results])
    assert (values.bfloat16().float() != values).any()


def test_llm_rerankers_are_refused_on_old_sentence_transformers(
    monkeypatch: pytest.MonkeyPatch, tiny_models: dict[str, Path]
) -> None:
    MODEL_CACHE.clear()
    monkeypatch.setattr(sentence_transformers, "__version__", "5.3.1")
    with pytest.raises(
        ConfigurationError, match=r"needs sentence-transformers >= 5\.4 \(installed: 5\.3\.1\)"
    ):
        Reranker(f"local/{tiny_models['qwen3']}")
    Reranker(f"local/{tiny_models['bert']}")  # classifiers still load
    MODEL_CACHE.clear()


def test_relative_directory_spec(monkeypatch: pytest.MonkeyPatch, bert_model: Path) -> None:
    monkeypatch.chdir(bert_model.parent)
    response = Reranker(f"local/./{bert_model.name}").rerank(QUERY, DOCS[:2])
    assert len(response.results) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"devise": "cpu"}, "unknown option.*'devise'.*valid options: device, dtype, batch_size"),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1"),
        ({"max_length": "long"}, "max_length must be an integer"),
        (
            {"backend": "tensorrt"},
            "backend must be one of 'torch', 'onnx', 'openvino' \\(or None\\), got 'tensorrt'",
        ),
        ({"instruction": "judge"}, "instruction applies only to LLM rerankers"),
    ],
)
def test_bad_local_options(bert_model: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Reranker(f"local/{bert_model}", **options)


def test_a_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="could not load local model"):
        Reranker(f"local/{tmp_path / 'nowhere'}")
