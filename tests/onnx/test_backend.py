"""The onnx backend through the core: options, refusals, token budgets, concurrent calls merged,
long-document windows, the score cache and batches of queries."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rerankit import ConfigurationError, InvalidInputError, Reranker
from rerankit._chunking import split_into_windows
from rerankit.backends import OnnxCrossEncoder
from tests.onnx.conftest import scores_of

QUERY = "how do rerankers score documents"
DOCUMENTS = [
    "BM25 is a bag of words ranking function.",
    "Rerankers read the query and the document together " * 20,
    "Paris is the capital of France.",
    "Dense retrieval embeds passages into vectors.",
    "short",
    "retrieval " * 200,
]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"runtime": "tensorrt"}, "runtime must be one of 'onnxruntime', 'openvino', got 'tensorrt'"),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1, got 0"),
        ({"max_length": 4}, "max_length must be an integer of at least 8"),
        ({"model_file": " "}, "model_file must be a non-blank path"),
        ({"device": "cpu"}, "unknown option\\(s\\) 'device' for backend 'onnx'"),
    ],
)
def test_bad_options_are_refused_by_name(bert_dir: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Reranker(f"onnx/{bert_dir}", **options)


def test_a_missing_model_file_lists_the_networks_that_are_there(bert_dir: Path) -> None:
    with pytest.raises(ConfigurationError) as error:
        Reranker(f"onnx/{bert_dir}", model_file="onnx/model_O4.onnx")
    message = str(error.value)
    assert "'onnx/model_O4.onnx' is not in" in message
    assert "onnx/model_qint8_avx512_vnni.onnx" in message and "openvino/openvino_model.xml" in message


def test_a_directory_without_a_network_or_tokenizer_says_what_it_lacks(
    bert_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text((bert_dir / "config.json").read_text())
    with pytest.raises(ConfigurationError, match=r"lacks tokenizer\.json"):
        Reranker(f"onnx/{tmp_path}")
    shutil.copy2(bert_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    with pytest.raises(
        ConfigurationError, match=r"no network file is in .*networks there: none \(export one"
    ):
        Reranker(f"onnx/{tmp_path}")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]}, "Qwen3ForCausalLM"),
        ({"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]}, "T5ForConditionalGeneration"),
        ({"model_type": "bert", "architectures": ["BertModel"]}, "BertModel"),
        (
            {"model_type": "electra", "architectures": ["ElectraForSequenceClassification"]},
            "ElectraForSequence",
        ),
    ],
)
def test_other_shapes_are_refused_by_name(bert_dir: Path, tmp_path: Path, config: dict, named: str) -> None:
    shutil.copytree(bert_dir, tmp_path / "model")
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigurationError, match=named) as error:
        Reranker(f"onnx/{tmp_path / 'model'}")
    assert "BertForSequenceClassification" in str(error.value)  # says what it scores


def test_the_activation_is_read_from_the_checkpoint(bert_dir: Path, tmp_path: Path, reference: dict) -> None:
    """sentence-transformers' activation_fn in config.json: Identity gives the raw logit."""
    model = tmp_path / "model"
    shutil.copytree(bert_dir, model)
    config = json.loads((model / "config.json").read_text())
    config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.linear.Identity"}
    (model / "config.json").write_text(json.dumps(config))
    logits = scores_of(Reranker(f"onnx/{model}"), reference["query"], reference["documents"])
    probabilities = np.asarray(reference["scores"]["bert"])
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probabilities, atol=1e-4)
    untrusted = tmp_path / "untrusted"  # a path outside torch needs remote code there: the default
    shutil.copytree(model, untrusted)
    config["sentence_transformers"] = {"activation_fn": "my_package.Calibrated"}
    (untrusted / "config.json").write_text(json.dumps(config))
    scores = scores_of(Reranker(f"onnx/{untrusted}"), reference["query"], reference["documents"])
    np.testing.assert_allclose(scores, probabilities, atol=1e-4)


def test_max_length_cuts_the_document_never_the_query(bert_dir: Path) -> None:
    backend = OnnxCrossEncoder(str(bert_dir), max_length=16)
    long_query = "ranking " * 30
    assert backend.loaded.tokenizer.truncation_for(QUERY) == "only_second"
    assert backend.loaded.tokenizer.truncation_for(long_query) == "longest_first"
    (encoding,) = backend.loaded.tokenizer.encode_pairs([(QUERY, "retrieval " * 50)], "only_second")
    query_ids = backend.loaded.tokenizer.encode_pairs([(QUERY, "")], "only_second")[0].ids
    assert len(encoding.ids) == 16 and encoding.ids[: len(query_ids) - 1] == query_ids[:-1]
    assert len(backend.score(long_query, ["a document"]).values) == 1


def test_the_token_budget_changes_batches_not_scores(bert_dir: Path) -> None:
    budget = scores_of(Reranker(f"onnx/{bert_dir}"), QUERY, DOCUMENTS)
    plain = scores_of(Reranker(f"onnx/{bert_dir}", max_batch_tokens=None, batch_size=2), QUERY, DOCUMENTS)
    np.testing.assert_allclose(budget, plain, atol=1e-6)
    assert OnnxCrossEncoder(str(bert_dir)).max_batch_tokens == 4096


async def test_concurrent_calls_share_forward_passes_and_get_their_own_scores(
    bert_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reranker = Reranker(f"onnx/{bert_dir}")
    queries = [f"question number {i} about ranking" for i in range(8)]
    alone = [scores_of(reranker, q, DOCUMENTS[:4]) for q in queries]
    seen: list[int] = []
    score_requests = reranker.backend.score_requests

    def counting(requests: Any) -> list[list[float]]:
        seen.append(len(requests))
        return score_requests(requests)

    monkeypatch.setattr(reranker.backend, "score_requests", counting)
    responses = await asyncio.gather(*(reranker.arerank(q, DOCUMENTS[:4]) for q in queries))
    assert max(seen) > 1, "no two calls were merged"
    for response, expected in zip(responses, alone, strict=True):
        got = np.empty(4)
        for result in response.results:
            got[result.index] = result.relevance_score
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_long_documents_are_windowed_with_the_model_tokenizer(bert_dir: Path) -> None:
    backend = OnnxCrossEncoder(str(bert_dir), max_length=32)
    budget = backend.document_token_budget(QUERY)
    query_tokens = len(backend.loaded.tokenizer.encode_pairs([(QUERY, "")], "only_second")[0].ids)
    assert budget == 32 - query_tokens
    text = "Rerankers read the query and the document together, window by window. " * 10
    spans = backend.token_offsets(text)
    assert spans[0][0] == 0 and all(text[a:b].strip() for a, b in spans)
    chunked = Reranker(f"onnx/{bert_dir}", max_length=32, long_documents="chunk")
    response = chunked.rerank(QUERY, [text, "short"])
    windows = [window.text for window in split_into_windows(text, spans, budget)]
    assert len(windows) > 1
    best = max(backend.score(QUERY, windows).values)
    score = next(r.relevance_score for r in response.results if r.index == 0)
    assert score == pytest.approx(best, abs=1e-6)


def test_the_score_cache_skips_pairs_scored_before(bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reranker = Reranker(f"onnx/{bert_dir}", cache=True)
    first = reranker.rerank(QUERY, DOCUMENTS)
    sent: list[int] = []
    score_requests = reranker.backend.score_requests
    monkeypatch.setattr(
        reranker.backend,
        "score_requests",
        lambda requests: sent.append(sum(len(t) for _, t in requests)) or score_requests(requests),
    )
    again = reranker.rerank(QUERY, [*DOCUMENTS, "a new document"])
    assert sum(sent) <= 1
    assert [r.relevance_score for r in again.results if r.index < len(DOCUMENTS)] == [
        r.relevance_score for r in first.results
    ]
    key = reranker.backend.cache_key()
    assert key["backend"] == "onnx" and key["model_file"] == "onnx/model.onnx"
    assert OnnxCrossEncoder(str(bert_dir), model_file="onnx/model_qint8_static.onnx").cache_key() != key


def test_rerank_batch_scores_as_each_rerank(bert_dir: Path) -> None:
    reranker = Reranker(f"onnx/{bert_dir}")
    queries = ["what is bm25", "capital of france", "what do rerankers do"]
    batched = reranker.rerank_batch(queries, [DOCUMENTS, DOCUMENTS[:3], DOCUMENTS[2:]])
    for query, documents, response in zip(
        queries, [DOCUMENTS, DOCUMENTS[:3], DOCUMENTS[2:]], batched, strict=True
    ):
        alone = reranker.rerank(query, documents)
        assert [r.index for r in response.results] == [r.index for r in alone.results]
        np.testing.assert_allclose(
            [r.relevance_score for r in response.results],
            [r.relevance_score for r in alone.results],
            atol=1e-6,
        )


def test_a_missing_runtime_package_is_named(bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a)
    )
    with pytest.raises(
        ConfigurationError,
        match=r"runtime='openvino' needs the openvino package: pip install \"rerankit\[openvino\]\"",
    ):
        Reranker(f"onnx/{bert_dir}", runtime="openvino")


def test_image_documents_are_refused_before_scoring(bert_dir: Path) -> None:
    pil = pytest.importorskip("PIL.Image", reason="image documents need pillow (rerankit[images])")
    import io

    from rerankit import Image

    buffer = io.BytesIO()
    pil.new("RGB", (2, 2)).save(buffer, format="PNG")
    reranker = Reranker(f"onnx/{bert_dir}")
    with pytest.raises(InvalidInputError, match=r"document at index 1 holds an image, and backend 'onnx'"):
        reranker.rerank(QUERY, ["a text", Image.from_bytes(buffer.getvalue())])
