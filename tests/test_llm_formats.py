"""LLM rerankers against their model cards' reference code, written here with ``transformers`` alone.

Each family gets a tiny random checkpoint of the hub repository's shape (architecture, special
tokens, the chat template the repository ships, or none), named like the repository so rerankit
recognises it. The references (tests/llm_references.py) follow the authors' code line by line,
cited on each; they share nothing with rerankit or sentence-transformers. Run with ``-s`` to see the measured
differences.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from rerankit import ConfigurationError, InvalidInputError, Reranker
from rerankit.backends import LLMFormat, LocalCrossEncoder
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._formats import FORMATS
from tests.llm_references import (
    _load,
    bge_gemma_reference,
    mxbai_reference,
    qwen3_reference,
    zerank_reference,
)

QUERY = "how does a cross-encoder rerank passages"
DOCS = [
    "A cross-encoder reads the query and the passage together and outputs one relevance score.",
    "Paris is the capital of France.",
    "BM25 ranks documents by term frequency and inverse document frequency, " * 3,
    "Rerankers are slower than bi-encoders but more accurate.",
    "short",
    "  Der schnelle braune Fuchs springt über den faulen Hund.  ",
]
QUERIES = [QUERY, "capital of France", "what is BM25?"]
INSTRUCTION = "Given a question about search engines, find passages that explain them"
TOLERANCE = 1e-4
#: the largest |rerankit - reference| seen per family, printed at the end (pytest -s)
MEASURED: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _print_measured():
    yield
    MODEL_CACHE.clear()
    print("\nmax |rerankit - reference| per family:", {k: f"{v:.2e}" for k, v in sorted(MEASURED.items())})


# --- rerankit against them ---------------------------------------------------------------------


def by_index(response) -> np.ndarray:
    out = np.empty(len(response.results))
    for result in response.results:
        out[result.index] = result.relevance_score
    return out


def check(family: str, got, expected) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    difference = float(np.max(np.abs(got - expected)))
    MEASURED[family] = max(MEASURED.get(family, 0.0), difference)
    assert difference <= TOLERANCE, f"{family}: max |difference| {difference:.2e}"
    assert np.ptp(expected) > 1e-3, "the tiny model must tell the documents apart"


REFERENCES = {
    "qwen3": lambda path, pairs, instruction, max_length: qwen3_reference(
        path, pairs, instruction, max_length
    ),
    "gemma": lambda path, pairs, instruction, max_length: bge_gemma_reference(
        path, pairs, instruction, max_length
    ),
    "zerank": lambda path, pairs, instruction, max_length: zerank_reference(path, pairs),
    "mxbai": lambda path, pairs, instruction, max_length: mxbai_reference(
        path, pairs, instruction, max_length
    ),
}
DEFAULT_MAX_LENGTH = {"qwen3": 8192, "gemma": 512, "zerank": 32768, "mxbai": 8192}
FORMAT_OF = {
    "qwen3": "qwen3-reranker",
    "gemma": "bge-reranker-v2-gemma",
    "zerank": "zerank",
    "mxbai": "mxbai-rerank-v2",
}


@pytest.mark.parametrize("family", ["qwen3", "gemma", "zerank", "mxbai"])
def test_sync_and_async_scores_equal_the_model_card_reference(
    llm_models: dict[str, Path], family: str
) -> None:
    path = llm_models[family]
    instructions = [None] if family == "zerank" else [None, INSTRUCTION]
    for instruction in instructions:
        options = {"instruction": instruction} if instruction else {}
        # a small token budget: several forward passes of mixed lengths, longest first
        reranker = Reranker(f"local/{path}", max_batch_tokens=1000, batch_size=4, **options)
        assert reranker.backend.llm_format is FORMATS[FORMAT_OF[family]]
        max_length = DEFAULT_MAX_LENGTH[family]
        expected = REFERENCES[family](path, [(QUERY, d) for d in DOCS], instruction, max_length)
        check(family, by_index(reranker.rerank(QUERY, DOCS)), expected)

        async def concurrent(reranker=reranker):
            return await asyncio.gather(*(reranker.arerank(q, DOCS) for q in QUERIES))

        for query, response in zip(QUERIES, asyncio.run(concurrent()), strict=True):
            expected = REFERENCES[family](path, [(query, d) for d in DOCS], instruction, max_length)
            check(family, by_index(response), expected)


def _short_prompt_length(path: Path) -> int:
    backend = LocalCrossEncoder(str(path))
    return len(backend.llm.encode_pair(QUERY, "x", backend.instruction))


SUFFIXES = {
    "qwen3": "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    "gemma": "\n" + FORMATS["bge-reranker-v2-gemma"].default_instruction,
    "zerank": "<|im_end|>\n<|im_start|>assistant\n",
    "mxbai": "\nRelevance:<|im_end|>\n<|im_start|>assistant\n",
}


@pytest.mark.parametrize("family", ["qwen3", "gemma", "zerank", "mxbai"])
def test_the_document_is_cut_never_the_framing(llm_models: dict[str, Path], family: str) -> None:
    path = llm_models[family]
    long_document = "retrieval augmented generation reranks passages " * 40
    documents = [long_document, long_document + " and a different ending", DOCS[0]]
    max_length = _short_prompt_length(path) + 30  # room for 30 document tokens
    reranker = Reranker(f"local/{path}", max_length=max_length)
    scores = by_index(reranker.rerank(QUERY, documents))
    # Different rows of a batch agree to float rounding, not bitwise; a wrong cut moves a score far more.
    assert scores[0] == pytest.approx(scores[1], abs=1e-6), "documents equal on every token that fits"
    if family != "zerank":  # the zerank reference cuts characters only, never tokens
        check(family, scores, REFERENCES[family](path, [(QUERY, d) for d in documents], None, max_length))
    backend = reranker.backend
    ids = backend.llm.encode_pair(QUERY, long_document, backend.instruction)
    full = LocalCrossEncoder(str(path)).llm.encode_pair(QUERY, long_document, backend.instruction)
    assert len(ids) < len(full)
    text = backend.tokenizer.decode(ids)
    assert text.endswith(SUFFIXES[family]) and QUERY in text
    if family in ("qwen3", "zerank"):  # max_length counts every token of the prompt
        assert len(ids) == max_length


@pytest.mark.parametrize("family", ["qwen3", "gemma", "zerank", "mxbai"])
def test_long_documents_chunk_into_windows_that_fit_the_whole_prompt(
    llm_models: dict[str, Path], family: str
) -> None:
    path = llm_models[family]
    max_length = _short_prompt_length(path) + 40  # room for about 40 document tokens
    document = " ".join(f"sentence {i} says rerankers read passages" for i in range(40))
    reranker = Reranker(f"local/{path}", max_length=max_length, long_documents="chunk")
    response = reranker.rerank(QUERY, [document, DOCS[0]])
    result = next(r for r in response.results if r.index == 0)
    assert result.chunk is not None and response.usage.pairs_scored > 3
    winner = document[result.chunk.start : result.chunk.end]
    backend = reranker.backend
    whole = LocalCrossEncoder(str(path)).llm.encode_pair(QUERY, winner, backend.instruction)
    # the window fits beside the whole prompt: the model reads it uncut
    assert backend.llm.encode_pair(QUERY, winner, backend.instruction) == whole
    assert len(whole) <= max_length
    short = next(r for r in response.results if r.index == 1)
    expected = REFERENCES[family](path, [(QUERY, winner), (QUERY, DOCS[0])], None, max_length)
    check(family, np.array([result.relevance_score, short.relevance_score]), expected)


@pytest.mark.parametrize("family", ["qwen3", "gemma", "zerank", "mxbai"])
def test_the_score_cache_keeps_the_formats_scores(llm_models: dict[str, Path], family: str) -> None:
    path = llm_models[family]
    plain = by_index(Reranker(f"local/{path}").rerank(QUERY, DOCS))
    cached = Reranker(f"local/{path}", cache=True)
    first = cached.rerank(QUERY, DOCS)
    again = cached.rerank(QUERY, DOCS)
    assert first.usage.cache_misses == len(DOCS) and again.usage.cache_hits == len(DOCS)
    assert again.usage.pairs_scored == 0
    assert by_index(first) == pytest.approx(plain, abs=1e-6)
    assert by_index(again) == pytest.approx(plain, abs=1e-6)
    key = cached.backend.cache_key()
    assert key["max_length"] == DEFAULT_MAX_LENGTH[family] and key["llm_reranker"] is True


@pytest.mark.parametrize("family", ["qwen3", "gemma", "zerank", "mxbai"])
def test_a_query_that_alone_overflows_is_a_clear_error(llm_models: dict[str, Path], family: str) -> None:
    max_length = _short_prompt_length(llm_models[family]) + 30
    reranker = Reranker(f"local/{llm_models[family]}", max_length=max_length)
    reranker.rerank(QUERY, ["doc one"])  # an ordinary query fits
    with pytest.raises(InvalidInputError, match=f"max_length {max_length}"):
        reranker.rerank("a very long query about retrieval " * 30, ["doc one", "doc two"])


def test_a_sentence_transformers_checkpoint_keeps_its_setup_and_matches_the_card(
    llm_models: dict[str, Path],
) -> None:
    path = llm_models["qwen3-st"]
    assert (path / "modules.json").is_file()
    backend = LocalCrossEncoder(str(path))
    assert backend.llm_format is None and backend.is_llm_reranker  # sentence-transformers' LogitScore
    check(
        "qwen3 (sentence-transformers setup)",
        by_index(Reranker(backend).rerank(QUERY, DOCS)),
        qwen3_reference(path, [(QUERY, d) for d in DOCS]),
    )
    instructed = Reranker(LocalCrossEncoder(str(path), instruction=INSTRUCTION)).rerank(QUERY, DOCS)
    check(
        "qwen3 (sentence-transformers setup)",
        by_index(instructed),
        qwen3_reference(path, [(QUERY, d) for d in DOCS], INSTRUCTION),
    )


def test_an_unknown_causal_lm_is_refused_at_construction(llm_models: dict[str, Path]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker(f"local/{llm_models['unknown']}")
    message = str(caught.value)
    assert "no known reranker format" in message and "llm_format" in message
    for name in FORMATS:
        assert name in message


def test_llm_format_forces_a_known_format_or_passes_a_custom_one(llm_models: dict[str, Path]) -> None:
    path = llm_models["unknown"]
    forced = Reranker(f"local/{path}", llm_format="qwen3-reranker").rerank(QUERY, DOCS)
    check("qwen3", by_index(forced), qwen3_reference(path, [(QUERY, d) for d in DOCS]))
    custom = LLMFormat(
        name="my-yes-no",
        layout="segments",
        prefix="<|im_start|>user\n",
        body="Query: {query}\nDocument: {document}",
        suffix="<|im_end|>\n<|im_start|>assistant\n",
        true_token="yes",
        false_token="no",
        score_head="softmax_true_false",
    )
    response = Reranker(f"local/{path}", llm_format=custom).rerank(QUERY, DOCS)
    tokenizer, model = _load(path)
    with torch.no_grad():
        expected = []
        for document in DOCS:
            ids = tokenizer(
                f"<|im_start|>user\nQuery: {QUERY}\nDocument: {document}<|im_end|>\n<|im_start|>assistant\n",
                add_special_tokens=False,
                return_tensors="pt",
            )
            logits = model(**ids).logits[0, -1]
            yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
            expected.append(torch.softmax(torch.stack([logits[no], logits[yes]]), 0)[1].item())
    check("custom format", by_index(response), expected)
    with pytest.raises(ConfigurationError, match=r"llm_format must be one of 'qwen3-reranker'.*got 'qwen4'"):
        Reranker(f"local/{path}", llm_format="qwen4")


def test_score_requests_batches_across_queries(llm_models: dict[str, Path]) -> None:
    backend = LocalCrossEncoder(str(llm_models["qwen3"]), max_batch_tokens=300)
    requests = [(q, DOCS[: 2 + i]) for i, q in enumerate(QUERIES)]
    results = backend.score_requests(requests)
    for (query, texts), scores in zip(requests, results, strict=True):
        check("qwen3", scores, qwen3_reference(llm_models["qwen3"], [(query, t) for t in texts]))
    # the token budget counts the prompt's own tokens, not only query and document
    pairs = [(QUERY, d) for d in DOCS]
    lengths = [len(backend.llm.encode_pair(q, d, backend.instruction)) for q, d in pairs]
    assert min(lengths) > 150  # the Qwen3 prompt alone is longer than any query + document here
    batches = backend.token_budget_batches(pairs)
    assert sorted(p for batch in batches for p in batch) == list(range(len(DOCS)))
    assert all(len(batch) * max(lengths[p] for p in batch) <= 300 or len(batch) == 1 for batch in batches)


def test_the_hub_shaped_qwen3_template_is_not_pair_aware(llm_models: dict[str, Path]) -> None:
    # what made sentence-transformers fail at the first rerank on the hub's main revision
    from rerankit.backends._local._llm import pair_aware_chat_template

    assert not pair_aware_chat_template(AutoTokenizer.from_pretrained(llm_models["qwen3"]))
    assert pair_aware_chat_template(AutoTokenizer.from_pretrained(llm_models["qwen3-st"]))


@pytest.mark.parametrize(
    ("family", "options", "message"),
    [
        ("zerank", {"instruction": "judge"}, "format 'zerank' takes no instruction"),
        ("qwen3", {"backend": "onnx"}, "runtime='onnx' is the onnx/ backend's now"),
    ],
)
def test_bad_llm_options(llm_models: dict[str, Path], family: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Reranker(f"local/{llm_models[family]}", **options)


def test_layerwise_and_lightweight_families_are_refused_with_the_reason(tmp_path: Path) -> None:
    for name in ("bge-reranker-v2-minicpm-layerwise", "bge-reranker-v2.5-gemma2-lightweight"):
        with pytest.raises(ConfigurationError, match=r"per-layer heads.*modeling code"):
            Reranker(f"local/BAAI/{name}")


def test_scores_are_computed_from_fp32_logits_in_half_precision(llm_models: dict[str, Path]) -> None:
    path = llm_models["qwen3"]
    half = Reranker(f"local/{path}", dtype="bfloat16")
    assert next(half.backend.cross_encoder.parameters()).dtype == torch.bfloat16
    scores = by_index(half.rerank(QUERY, DOCS))
    np.testing.assert_allclose(scores, qwen3_reference(path, [(QUERY, d) for d in DOCS]), atol=5e-2)
    values = torch.tensor(scores, dtype=torch.float32)
    assert (values.bfloat16().float() != values).any(), "the head ran in fp32, not bf16"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("Qwen/Qwen3-Reranker-8B", "qwen3-reranker"),
        ("/models/qwen3-reranker-4b/", "qwen3-reranker"),
        ("/hf/hub/models--zeroentropy--zerank-1-small/snapshots/0a1b2c3d", "zerank"),
        ("mixedbread-ai/mxbai-rerank-large-v2", "mxbai-rerank-v2"),
        ("BAAI/bge-reranker-v2-gemma", "bge-reranker-v2-gemma"),
        ("BAAI/bge-reranker-v2-m3", None),  # a classifier, not an LLM format
        ("cross-encoder-testing/Qwen3-Reranker-0.6B-STv54", None),  # ships its own setup
    ],
)
def test_formats_are_recognised_by_repository_name(model: str, expected: str | None) -> None:
    from rerankit.backends._local._formats import recognise

    found = recognise(model)
    assert (found.name if found else None) == expected


def test_a_format_forced_on_a_classifier_is_refused(bert_model: Path) -> None:
    with pytest.raises(ConfigurationError, match="applies to causal LMs"):
        Reranker(f"local/{bert_model}", llm_format="qwen3-reranker")
