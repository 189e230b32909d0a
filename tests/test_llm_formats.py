"""LLM rerankers against their model cards' reference code, written here with ``transformers`` alone.

Each family gets a tiny random checkpoint of the hub repository's shape (architecture, special
tokens, the chat template the repository ships, or none), named like the repository so rerankit
recognises it. The references below follow the authors' code line by line (cited on each); they
share nothing with rerankit or sentence-transformers. Run with ``-s`` to see the measured
differences.
"""

from __future__ import annotations

import asyncio
import functools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rerankit import ConfigurationError, InvalidInputError, Reranker
from rerankit.backends.local import FORMATS, MODEL_CACHE, LLMFormat, LocalCrossEncoder

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


@pytest.fixture(scope="module")
def llm_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from rerankit.testing.models import (
        build_bge_reranker_v2_gemma,
        build_mxbai_rerank_v2,
        build_qwen3_reranker_hub,
        build_qwen3_reranker_sentence_transformers,
        build_zerank_reranker,
    )

    root = tmp_path_factory.mktemp("llm")
    models = {
        "qwen3": build_qwen3_reranker_hub(root / "Qwen3-Reranker-0.6B"),
        "qwen3-st": build_qwen3_reranker_sentence_transformers(root / "Qwen3-Reranker-0.6B-STv54"),
        "gemma": build_bge_reranker_v2_gemma(root / "bge-reranker-v2-gemma"),
        "zerank": build_zerank_reranker(root / "zerank-2"),
        "mxbai": build_mxbai_rerank_v2(root / "mxbai-rerank-base-v2"),
        # a causal LM of no known family, with an ordinary chat template and no ST files
        "unknown": build_qwen3_reranker_hub(root / "my-causal-lm", seed=5),
    }
    yield models
    MODEL_CACHE.clear()
    print("\nmax |rerankit - reference| per family:", {k: f"{v:.2e}" for k, v in sorted(MEASURED.items())})


@functools.lru_cache(maxsize=None)
def _load(path: Path, padding_side: str | None = None):
    """The references' ``from_pretrained`` calls, cached: loading is not what is compared."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    if padding_side:
        tokenizer.padding_side = padding_side
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return tokenizer, model


# --- the references ----------------------------------------------------------------------------


@torch.no_grad()
def qwen3_reference(path: Path, pairs, instruction=None, max_length=8192) -> list[float]:
    """QwenLM/Qwen3-Embedding README (the Qwen3-Reranker model card), "Transformers Usage"."""
    tokenizer, model = _load(path, padding_side="left")  # AutoTokenizer(padding_side="left"), AutoModelForCausalLM
    token_false_id = tokenizer.convert_tokens_to_ids("no")
    token_true_id = tokenizer.convert_tokens_to_ids("yes")
    prefix = (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
        'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    )
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    prefix_tokens = tokenizer.encode(prefix, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(suffix, add_special_tokens=False)

    def format_instruction(instruction, query, doc):
        if instruction is None:
            instruction = "Given a web search query, retrieve relevant passages that answer the query"
        return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}"

    texts = [format_instruction(instruction, q, d) for q, d in pairs]
    inputs = tokenizer(
        texts,
        padding=False,
        truncation="longest_first",
        return_attention_mask=False,
        max_length=max_length - len(prefix_tokens) - len(suffix_tokens),
    )
    for i, ele in enumerate(inputs["input_ids"]):
        inputs["input_ids"][i] = prefix_tokens + ele + suffix_tokens
    inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
    batch_scores = model(**inputs).logits[:, -1, :]
    true_vector = batch_scores[:, token_true_id]
    false_vector = batch_scores[:, token_false_id]
    batch_scores = torch.stack([false_vector, true_vector], dim=1)
    batch_scores = torch.nn.functional.log_softmax(batch_scores, dim=1)
    return batch_scores[:, 1].exp().tolist()


def _prepare_for_model_only_second(first: list[int], second: list[int], max_length: int) -> list[int]:
    """``tokenizer.prepare_for_model(first, second, truncation='only_second', max_length=...,
    add_special_tokens=False)``: tokens removed from the end of the second sequence."""
    overflow = len(first) + len(second) - max_length
    if overflow > 0:
        second = second[: len(second) - overflow]
    return first + second


@torch.no_grad()
def bge_gemma_reference(path: Path, pairs, prompt=None, max_length=512) -> list[float]:
    """FlagEmbedding inference/reranker/decoder_only/base.py, BaseLLMReranker.compute_score_single_gpu
    (with AbsReranker.get_detailed_inputs: "A: " + query, "B: " + passage), normalize=True."""
    tokenizer, model = _load(path)
    pairs = [("A: " + q, "B: " + p) for q, p in pairs]
    query_max_length = max_length * 3 // 4
    yes_loc = tokenizer("Yes", add_special_tokens=False)["input_ids"][0]
    if prompt is None:
        prompt = (
            "Given a query A and a passage B, determine whether the passage contains an answer to the query by "
            "providing a prediction of either 'Yes' or 'No'."
        )
    prompt_inputs = tokenizer(prompt, return_tensors=None, add_special_tokens=False)["input_ids"]
    sep_inputs = tokenizer("\n", return_tensors=None, add_special_tokens=False)["input_ids"]
    encode_max_length = max_length + len(sep_inputs) + len(prompt_inputs)
    items = []
    for query, passage in pairs:
        query_ids = tokenizer(query, add_special_tokens=False, max_length=query_max_length, truncation=True)
        passage_ids = tokenizer(passage, add_special_tokens=False, max_length=max_length, truncation=True)
        first = query_ids["input_ids"]
        if tokenizer.bos_token_id is not None and tokenizer.bos_token_id != tokenizer.pad_token_id:
            first = [tokenizer.bos_token_id] + first
        ids = _prepare_for_model_only_second(first, sep_inputs + passage_ids["input_ids"], encode_max_length)
        ids = ids + sep_inputs + prompt_inputs
        items.append({"input_ids": ids, "attention_mask": [1] * len(ids)})
    batch = tokenizer.pad(items, padding=True, max_length=encode_max_length, pad_to_multiple_of=8, return_tensors="pt")
    logits = model(**batch, output_hidden_states=True).logits
    # last_logit_pool: left padding -> the last column, else each row's last real token
    mask = batch["attention_mask"]
    if mask[:, -1].sum() == mask.shape[0]:
        last = logits[:, -1, :]
    else:
        last = torch.stack([logits[i, mask[i].sum() - 1, :] for i in range(logits.shape[0])])
    return [1 / (1 + math.exp(-score)) for score in last[:, yes_loc].float().tolist()]


@torch.no_grad()
def zerank_reference(path: Path, pairs) -> list[float]:
    """zeroentropy/zerank-* modeling_zeranker.py: format_pointwise_datapoints + predict."""
    tokenizer, model = _load(path, padding_side="right")
    yes_token_id = tokenizer.encode("Yes", add_special_tokens=False)[0]
    pairs = [(q[:2_000], d[:10_000]) for q, d in pairs]
    texts = []
    for query, document in pairs:
        messages = [
            {"role": "system", "content": f"\n{query}\n".strip()},
            {"role": "user", "content": f"\n{document}\n".strip()},
        ]
        texts.append(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    logits = model(**batch, use_cache=False).logits
    last_positions = batch["attention_mask"].sum(dim=1) - 1
    last_logits = logits[torch.arange(logits.shape[0]), last_positions]
    return [1 / (1 + math.exp(-float(logit) / 5.0)) for logit in last_logits[:, yes_token_id]]


@torch.no_grad()
def mxbai_reference(path: Path, pairs, instruction=None, max_length=8192) -> list[float]:
    """mixedbread-ai/mxbai-rerank mxbai_rerank/mxbai_rerank_v2.py: MxbaiRerankV2.prepare_inputs +
    forward (logit "1" - logit "0"), the 0-1 score as sigmoid of that logit."""
    tokenizer, model = _load(path, padding_side="left")
    sep = "\n"
    task_prompt = (
        "You are a search relevance expert who evaluates how well documents match search queries. For each "
        "query-document pair, carefully analyze the semantic relationship between them, then provide your "
        "binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:"
    )
    prefix = (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n"
    )
    suffix = "<|im_end|>\n<|im_start|>assistant\n"

    def get_input_ids(x):
        return tokenizer(x, return_tensors=None, add_special_tokens=False)["input_ids"]

    yes_loc, no_loc = get_input_ids("1")[0], get_input_ids("0")[0]
    task_prompt_inputs, sep_inputs = get_input_ids(task_prompt), get_input_ids(sep)
    prefix_inputs, suffix_inputs = get_input_ids(prefix), get_input_ids(suffix)
    model_max_length = tokenizer.model_max_length
    items = []
    for query, document in pairs:
        query_prompt = f"query: {query}"
        if instruction:
            query_prompt = "".join([f"instruction: {instruction}", sep, query_prompt])
        query_ids = tokenizer(
            query_prompt, add_special_tokens=False, max_length=max_length * 3 // 4, truncation=True
        )["input_ids"]
        document_ids = tokenizer(
            f"document: {document}",
            add_special_tokens=False,
            max_length=min(model_max_length - len(query_ids), max_length),
            truncation=True,
        )["input_ids"]
        ids = _prepare_for_model_only_second(query_ids, sep_inputs + document_ids, max_length)
        ids = prefix_inputs + ids + sep_inputs + task_prompt_inputs + suffix_inputs
        items.append({"input_ids": ids, "attention_mask": [1] * len(ids)})
    batch = tokenizer.pad(items, padding="longest", pad_to_multiple_of=8, return_tensors="pt")
    logits = model(**batch, output_hidden_states=True).logits
    scores = logits[:, -1, yes_loc] - logits[:, -1, no_loc]
    return torch.sigmoid(scores.float()).tolist()


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
    "qwen3": lambda path, pairs, instruction, max_length: qwen3_reference(path, pairs, instruction, max_length),
    "gemma": lambda path, pairs, instruction, max_length: bge_gemma_reference(path, pairs, instruction, max_length),
    "zerank": lambda path, pairs, instruction, max_length: zerank_reference(path, pairs),
    "mxbai": lambda path, pairs, instruction, max_length: mxbai_reference(path, pairs, instruction, max_length),
}
DEFAULT_MAX_LENGTH = {"qwen3": 8192, "gemma": 512, "zerank": 32768, "mxbai": 8192}
FORMAT_OF = {"qwen3": "qwen3-reranker", "gemma": "bge-reranker-v2-gemma", "zerank": "zerank", "mxbai": "mxbai-rerank-v2"}


@pytest.mark.parametrize("family", ["qwen3", "gemma", "zerank", "mxbai"])
def test_sync_and_async_scores_equal_the_model_card_reference(llm_models: dict[str, Path], family: str) -> None:
    path = llm_models[family]
    instructions = [None] if family == "zerank" else [None, INSTRUCTION]
    for instruction in instructions:
        options = {"instruction": instruction} if instruction else {}
        # a small token budget: several forward passes of mixed lengths, longest first
        reranker = Reranker(f"local/{path}", max_batch_tokens=400, batch_size=4, **options)
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
    assert scores[0] == scores[1], "documents equal on every token that fits score the same"
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
    check("qwen3 (sentence-transformers setup)", by_index(Reranker(backend).rerank(QUERY, DOCS)), qwen3_reference(path, [(QUERY, d) for d in DOCS]))
    instructed = Reranker(LocalCrossEncoder(str(path), instruction=INSTRUCTION)).rerank(QUERY, DOCS)
    check("qwen3 (sentence-transformers setup)", by_index(instructed), qwen3_reference(path, [(QUERY, d) for d in DOCS], INSTRUCTION))


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
            ids = tokenizer(f"<|im_start|>user\nQuery: {QUERY}\nDocument: {document}<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False, return_tensors="pt")
            logits = model(**ids).logits[0, -1]
            yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
            expected.append(torch.softmax(torch.stack([logits[no], logits[yes]]), 0)[1].item())
    check("custom format", by_index(response), expected)
    with pytest.raises(ConfigurationError, match="unknown llm_format 'qwen4'.*qwen3-reranker"):
        Reranker(f"local/{path}", llm_format="qwen4")


def test_score_requests_batches_across_queries(llm_models: dict[str, Path]) -> None:
    backend = LocalCrossEncoder(str(llm_models["qwen3"]), max_batch_tokens=300)
    requests = [(q, DOCS[: 2 + i]) for i, q in enumerate(QUERIES)]
    results = backend.score_requests(requests)
    for (query, texts), scores in zip(requests, results, strict=True):
        check("qwen3", scores, qwen3_reference(llm_models["qwen3"], [(query, t) for t in texts]))


@pytest.mark.parametrize(
    ("family", "options", "message"),
    [
        ("zerank", {"instruction": "judge"}, "format 'zerank' takes no instruction"),
        ("qwen3", {"backend": "onnx"}, "runs on backend='torch' only"),
    ],
)
def test_bad_llm_options(llm_models: dict[str, Path], family: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Reranker(f"local/{llm_models[family]}", **options)


def test_layerwise_and_lightweight_families_are_refused_with_the_reason(tmp_path: Path) -> None:
    for name in ("bge-reranker-v2-minicpm-layerwise", "bge-reranker-v2.5-gemma2-lightweight"):
        with pytest.raises(ConfigurationError, match="per-layer heads.*remote"):
            Reranker(f"local/BAAI/{name}")


def test_scores_are_computed_from_fp32_logits_in_half_precision(llm_models: dict[str, Path]) -> None:
    path = llm_models["qwen3"]
    half = Reranker(f"local/{path}", dtype="bfloat16")
    assert next(half.backend.cross_encoder.parameters()).dtype == torch.bfloat16
    scores = by_index(half.rerank(QUERY, DOCS))
    np.testing.assert_allclose(scores, qwen3_reference(path, [(QUERY, d) for d in DOCS]), atol=5e-2)
    values = torch.tensor(scores, dtype=torch.float32)
    assert (values.bfloat16().float() != values).any(), "the head ran in fp32, not bf16"
