"""Prefix reuse: a query's shared prompt computed once, the scores still the model cards' own.

Every LLM format (and the sentence-transformers setup) is held to its reference recipe
(tests/llm_references.py) with reuse on, the default, and each test also checks that the prefix
was in fact reused (or, for the fallbacks, that it was not): a counting wrapper around the one
place a prefix is computed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from rerankit import Reranker
from rerankit.backends import LocalCrossEncoder
from rerankit.backends._local import _prefix_reuse
from rerankit.backends._local._prefix_reuse import MIN_SHARED_TOKENS, prefix_reuse_problem, shared_prefixes
from tests.llm_references import qwen3_reference, zerank_reference
from tests.test_llm_formats import (
    DEFAULT_MAX_LENGTH,
    DOCS,
    INSTRUCTION,
    QUERIES,
    QUERY,
    REFERENCES,
    _short_prompt_length,
    by_index,
    check,
)

FAMILIES = ["qwen3", "gemma", "zerank", "mxbai", "qwen3-st"]


def reference(family: str, path: Path, pairs, instruction, max_length: int | None = None):
    if family == "qwen3-st":  # a sentence-transformers conversion of Qwen3-Reranker: its model card
        return qwen3_reference(path, pairs, instruction)
    return REFERENCES[family](path, pairs, instruction, max_length or DEFAULT_MAX_LENGTH[family])


def _prompt_length(path: Path) -> int:
    backend = LocalCrossEncoder(str(path))
    if backend.llm is None:  # the sentence-transformers setup: its own preprocess counts
        return backend._window_limit() - backend.document_token_budget(QUERY)
    return _short_prompt_length(path)


@pytest.fixture
def prefixes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every prefix computed, in order."""
    computed: list[int] = []
    compute = _prefix_reuse._PrefixCache.compute.__func__

    def counting(cls, decoder, ids, device):
        computed.append(len(ids))
        return compute(cls, decoder, ids, device)

    monkeypatch.setattr(_prefix_reuse._PrefixCache, "compute", classmethod(counting))
    return computed


@pytest.mark.parametrize("family", FAMILIES)
def test_reuse_keeps_the_reference_scores(llm_models: dict[str, Path], family: str, prefixes) -> None:
    path = llm_models[family]
    for instruction in [None] if family == "zerank" else [None, INSTRUCTION]:
        options = {"instruction": instruction} if instruction else {}
        # a small budget: several forward passes per prefix, of mixed tail lengths, longest first
        reranker = Reranker(f"local/{path}", max_batch_tokens=600, batch_size=3, **options)
        prefixes.clear()
        check(
            family,
            by_index(reranker.rerank(QUERY, DOCS)),
            reference(family, path, [(QUERY, d) for d in DOCS], instruction),
        )
        assert len(prefixes) == 1 and prefixes[0] >= MIN_SHARED_TOKENS, prefixes

        async def concurrent(reranker=reranker):  # merged into shared passes, two calls of one query
            calls = [reranker.arerank(QUERY, DOCS[:3]), reranker.arerank(QUERY, DOCS[2:])]
            return await asyncio.gather(*calls, *(reranker.arerank(q, DOCS) for q in QUERIES[1:]))

        responses = asyncio.run(concurrent())
        for (query, texts), response in zip(
            [(QUERY, DOCS[:3]), (QUERY, DOCS[2:]), *((q, DOCS) for q in QUERIES[1:])], responses, strict=True
        ):
            check(
                family, by_index(response), reference(family, path, [(query, t) for t in texts], instruction)
            )


@pytest.mark.parametrize("family", FAMILIES)
def test_reuse_with_documents_cut_to_max_length(llm_models: dict[str, Path], family: str, prefixes) -> None:
    path = llm_models[family]
    long_document = "retrieval augmented generation reranks passages " * 40
    documents = [long_document, long_document + " and a different ending", "short", DOCS[0]]
    max_length = _prompt_length(path) + 30  # room for 30 document tokens
    reuse = by_index(Reranker(f"local/{path}", max_length=max_length).rerank(QUERY, documents))
    assert prefixes, "the prefix was reused"
    whole = by_index(
        Reranker(f"local/{path}", max_length=max_length, reuse_prefix=False).rerank(QUERY, documents)
    )
    np.testing.assert_allclose(reuse, whole, rtol=0, atol=1e-5)
    assert reuse[0] == pytest.approx(reuse[1], abs=1e-6), "documents equal on every token that fits"
    if family not in ("zerank", "qwen3-st"):  # zerank's reference cuts characters, not tokens
        check(family, reuse, reference(family, path, [(QUERY, d) for d in documents], None, max_length))


@pytest.mark.parametrize("family", ["qwen3", "qwen3-st"])
def test_calls_with_the_same_query_share_one_prefix(
    llm_models: dict[str, Path], family: str, prefixes
) -> None:
    path = llm_models[family]
    backend = LocalCrossEncoder(str(path), max_batch_tokens=500)
    requests = [(QUERY, DOCS[:3]), (QUERIES[1], DOCS[:1]), (QUERY, DOCS[3:]), (QUERIES[2], DOCS[1:2])]
    results = backend.score_requests(requests)
    assert len(prefixes) == 1, "one prefix for QUERY's two requests; single documents are computed whole"
    expected = [reference(family, path, [(query, t) for t in texts], None) for query, texts in requests]
    check(family, np.concatenate(results), np.concatenate(expected))
    prefixes.clear()
    batch = Reranker(backend).rerank_batch([QUERY, QUERIES[1], QUERY], [DOCS[:2], DOCS, DOCS[2:]])
    assert len(prefixes) == 2, "rerank_batch: one prefix per distinct query"
    for query, texts, response in zip(
        [QUERY, QUERIES[1], QUERY], [DOCS[:2], DOCS, DOCS[2:]], batch, strict=True
    ):
        check(family, by_index(response), reference(family, path, [(query, t) for t in texts], None))


def test_reuse_prefix_false_computes_every_pair_whole(llm_models: dict[str, Path], prefixes) -> None:
    for family in ("qwen3", "qwen3-st"):
        path = llm_models[family]
        scores = by_index(Reranker(f"local/{path}", reuse_prefix=False).rerank(QUERY, DOCS))
        check(family, scores, reference(family, path, [(QUERY, d) for d in DOCS], None))
    assert prefixes == []


def test_a_layout_with_the_document_first_falls_back(
    llm_models: dict[str, Path], tmp_path: Path, prefixes
) -> None:
    # zerank's chat layout over a template that renders the user turn (the document) before the
    # system turn (the query): the pairs share only "<|im_start|>user\n", too little to reuse
    path = tmp_path / "document-first-lm"
    tokenizer = AutoTokenizer.from_pretrained(llm_models["zerank"])
    tokenizer.chat_template = (
        "{{- '<|im_start|>user\\n' + messages[1].content + '<|im_end|>\\n' }}"
        "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    )
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(llm_models["zerank"]).save_pretrained(path)
    tokenizer.save_pretrained(path)
    reranker = Reranker(f"local/{path}", llm_format="zerank")
    check(
        "zerank", by_index(reranker.rerank(QUERY, DOCS)), zerank_reference(path, [(QUERY, d) for d in DOCS])
    )
    assert prefixes == [], "nothing reused: the shared part is shorter than MIN_SHARED_TOKENS"


def test_shared_prefixes_groups_by_query_and_keeps_a_token_per_pair() -> None:
    shared = list(range(20))
    groups, whole = shared_prefixes(
        ["a", "a", "b", "c", "c"],
        [[*shared, 1, 2], [*shared, 1], [*shared, 3], [*shared[:5], 9], [*shared[:5], 8]],
    )
    # a: the common 21 tokens cut to 20, so the shorter pair still computes its last token itself
    assert [(len(g.ids), g.positions) for g in groups] == [(20, [0, 1])]
    assert whole == [2, 3, 4]  # b: one pair; c: 5 shared tokens, fewer than MIN_SHARED_TOKENS


def test_only_plain_full_attention_decoders_reuse() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tiny = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "vocab_size": 64,
    }
    assert prefix_reuse_problem(Qwen2ForCausalLM(Qwen2Config(**tiny))) is None
    sliding = Qwen2ForCausalLM(
        Qwen2Config(**tiny, use_sliding_window=True, sliding_window=8, max_window_layers=0)
    )
    assert "sliding window" in prefix_reuse_problem(sliding)
    assert "is not one of qwen2, qwen3, gemma" in prefix_reuse_problem(LlamaForCausalLM(LlamaConfig(**tiny)))
