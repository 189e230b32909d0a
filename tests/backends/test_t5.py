"""``t5/``: monoT5-family scores equal the authors' recipe, computed here with transformers alone.

The reference is AnswerDotAI rerankers ``t5ranker.py`` (from unicamp-dl/InRanker, after
castorini/pygaggle): ``Query: {q} Document: {d} Relevant:``, tokenized with padding and
``truncation="longest_first"`` at 512, one decoder step from ``decoder_start_token_id``,
``exp(log_softmax([logit false, logit true]))[true]``. The decoder step here is transformers'
own ``generate(max_new_tokens=1, output_logits=True)``, not the backend's forward call.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from rerankit import ConfigurationError, Reranker
from rerankit.backends import SEQ2SEQ_FORMATS, LocalSeq2Seq

QUERY = "what is bm25"
DOCS = [
    "BM25 is a bag of words ranking function used by search engines.",
    "Bananas are yellow fruit.",
    "Paris is the capital of France and Berlin is the capital of Germany.",
    "Dense retrieval embeds queries and passages into one vector space. " * 6,
    "true",
    "Rerankers score a query and a document together with full cross attention.",
]


@functools.cache
def reference_model(model_dir: Path):
    """The checkpoint loaded by transformers alone (no rerankit code)."""
    return AutoTokenizer.from_pretrained(model_dir), AutoModelForSeq2SeqLM.from_pretrained(model_dir).eval()


def reference_scores(model_dir: Path, query: str, docs: list[str], *, false: str, true: str) -> list[float]:
    tokenizer, model = reference_model(model_dir)
    texts = [f"Query: {query} Document: {doc} Relevant:" for doc in docs]
    tokenized = tokenizer(
        texts, padding=True, truncation="longest_first", max_length=512, return_tensors="pt"
    )
    with torch.inference_mode():
        generated = model.generate(
            **tokenized, max_new_tokens=1, do_sample=False, output_logits=True, return_dict_in_generate=True
        )
    logits = generated.logits[0]
    ids = [tokenizer.convert_tokens_to_ids(false), tokenizer.convert_tokens_to_ids(true)]
    return torch.exp(torch.log_softmax(logits[:, ids].float(), dim=-1))[:, 1].tolist()


def reference_from_ids(model_dir: Path, input_ids: list[int], *, false: str, true: str) -> float:
    tokenizer, model = reference_model(model_dir)
    with torch.inference_mode():
        generated = model.generate(
            input_ids=torch.tensor([input_ids]),
            attention_mask=torch.ones(1, len(input_ids), dtype=torch.long),
            max_new_tokens=1,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
        )
    ids = [tokenizer.convert_tokens_to_ids(false), tokenizer.convert_tokens_to_ids(true)]
    return torch.softmax(generated.logits[0][0, ids].float(), dim=-1)[1].item()


@pytest.mark.parametrize(
    ("family", "batching"),
    [("monot5", {}), ("inranker", {"batch_size": 2}), ("mt5", {"max_batch_tokens": 64})],
)
def test_scores_equal_the_reference_recipe(t5_model: Path, family: str, batching: dict):
    fmt = SEQ2SEQ_FORMATS[family]
    expected = reference_scores(t5_model, QUERY, DOCS, false=fmt.false_token, true=fmt.true_token)
    backend = LocalSeq2Seq(str(t5_model), family=family, device="cpu", **batching)
    values = backend.score(QUERY, DOCS).values
    assert max(abs(a - b) for a, b in zip(values, expected, strict=True)) <= 1e-5
    assert len(set(values)) == len(values)  # the tiny model still tells the documents apart
    assert all(0.0 < value < 1.0 for value in values)


def test_mt5_scores_yes_against_no(t5_model: Path):
    """The family's tokens matter: mT5's p(yes) is not monoT5's p(true) on the same weights."""
    monot5 = LocalSeq2Seq(str(t5_model), family="monot5", device="cpu").score(QUERY, DOCS[:3]).values
    mt5 = LocalSeq2Seq(str(t5_model), family="mt5", device="cpu").score(QUERY, DOCS[:3]).values
    assert all(abs(a - b) > 1e-4 for a, b in zip(monot5, mt5, strict=True))


def test_truncation_cuts_the_document_never_the_relevant_suffix(t5_model: Path):
    backend = LocalSeq2Seq(str(t5_model), family="monot5", device="cpu", max_length=48)
    tokenizer = backend.tokenizer
    long_document = "Paris is the capital of France and Berlin is the capital of Germany. " * 40
    ids = backend.encoder_input(QUERY, long_document)
    suffix = [*tokenizer("Relevant:", add_special_tokens=False)["input_ids"][-3:], tokenizer.eos_token_id]
    prefix = tokenizer(f"Query: {QUERY} Document:", add_special_tokens=False)["input_ids"]
    assert len(ids) <= 48
    assert ids[-len(suffix) :] == suffix
    assert ids[: len(prefix)] == prefix
    assert len(ids) >= 48 - 3  # the document fills the budget, up to a token boundary
    # the score is the recipe's on exactly that input ...
    expected = reference_from_ids(t5_model, ids, false="▁false", true="▁true")
    assert backend.score(QUERY, [long_document]).values[0] == pytest.approx(expected, abs=1e-5)
    # ... while truncating the whole input, as the reference does, would have cut the suffix off
    reference_ids = tokenizer(
        f"Query: {QUERY} Document: {long_document} Relevant:", truncation="longest_first", max_length=48
    )["input_ids"]
    assert reference_ids[-len(suffix) :] != suffix


def test_a_query_too_long_for_any_document_is_cut_and_the_suffix_kept(t5_model: Path):
    backend = LocalSeq2Seq(str(t5_model), family="monot5", device="cpu", max_length=24)
    ids = backend.encoder_input("capital of France " * 30, "Paris")
    assert len(ids) <= 24
    assert ids[-1] == backend.tokenizer.eos_token_id
    assert backend.tokenizer.decode(ids).rstrip("</s>").strip().endswith("Relevant:")


def test_unknown_shapes_are_refused(t5_model: Path, bert_model: Path):
    with pytest.raises(ConfigurationError, match="no known seq2seq family"):
        Reranker(f"t5/{t5_model}", device="cpu")
    with pytest.raises(
        ConfigurationError,
        match="family must be one of 'monot5', 'inranker', 'mt5' \\(or None\\), got 'flan'",
    ):
        Reranker(f"t5/{t5_model}", family="flan", device="cpu")
    with pytest.raises(ConfigurationError, match="'▁oui' is not a piece"):
        Reranker(f"t5/{t5_model}", family="monot5", true_token="▁oui", device="cpu")
    with pytest.raises(ConfigurationError, match="not an encoder-decoder"):
        Reranker(f"t5/{bert_model}", family="monot5", device="cpu")
    with pytest.raises(ConfigurationError, match="template must"):
        Reranker(f"t5/{t5_model}", family="monot5", template="Query: {query} Relevant:", device="cpu")


def test_hub_ids_pick_their_family():
    from rerankit.backends._local._seq2seq import resolve_format

    assert resolve_format("castorini/monot5-base-msmarco", None).true_token == "▁true"
    assert resolve_format("unicamp-dl/InRanker-base", None).name == "inranker"
    assert resolve_format("unicamp-dl/mt5-base-mmarco-v2", None).true_token == "▁yes"
    with pytest.raises(ConfigurationError):
        resolve_format("unicamp-dl/mt5-3B-mmarco-en-pt", None)  # other tokens: not guessed


def test_local_directories_named_like_the_repository_pick_their_family(t5_model: Path, tmp_path: Path):
    import shutil

    from rerankit.backends._local._seq2seq import resolve_format

    named = tmp_path / "monot5-base-msmarco-10k"
    shutil.copytree(t5_model, named)
    snapshot = tmp_path / "hub" / "models--unicamp-dl--mt5-base-mmarco-v2" / "snapshots" / "0a1b2c"
    shutil.copytree(t5_model, snapshot)
    assert resolve_format(str(named), None).name == "monot5"
    assert resolve_format(str(snapshot), None).name == "mt5"
    assert LocalSeq2Seq(str(named), device="cpu").format.name == "monot5"
    # a hub id of another organisation is not guessed (it is not a directory here)
    with pytest.raises(ConfigurationError, match="no known seq2seq family"):
        resolve_format("someone/monot5-base-msmarco", None)


def test_a_custom_template_and_tokens(t5_model: Path):
    backend = LocalSeq2Seq(
        str(t5_model), template="Question: {query} Passage: {document} Relevant:", true_token="▁yes",
        false_token="▁no", device="cpu",
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(t5_model)
    ids = tokenizer(f"Question: {QUERY} Passage: {DOCS[0]} Relevant:")["input_ids"]
    expected = reference_from_ids(t5_model, ids, false="▁no", true="▁yes")
    assert backend.score(QUERY, DOCS[:1]).values[0] == pytest.approx(expected, abs=1e-5)


def test_concurrent_calls_get_their_own_scores(t5_model: Path):
    reranker = Reranker(f"t5/{t5_model}", family="monot5", device="cpu")
    queries = ["what is bm25", "capital of france", "dense retrieval"]
    alone = [reranker.rerank(query, DOCS) for query in queries]

    async def together():
        return await asyncio.gather(*(reranker.arerank(query, DOCS) for query in queries))

    for single, merged in zip(alone, asyncio.run(together()), strict=True):
        single_scores = {r.index: r.relevance_score for r in single.results}
        merged_scores = {r.index: r.relevance_score for r in merged.results}
        assert merged_scores == pytest.approx(single_scores, abs=1e-6)
