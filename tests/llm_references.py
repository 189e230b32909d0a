"""The LLM rerankers' reference code, written from their model cards with ``transformers`` alone.

Nothing here imports rerankit or sentence-transformers: these functions are what rerankit's scores
are held to (tests/test_llm_formats.py, tests/backends/test_local.py). Each cites the code it follows.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


@functools.cache
def _load(path: Path, padding_side: str | None = None):
    """The references' ``from_pretrained`` calls, cached: loading is not what is compared."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    if padding_side:
        tokenizer.padding_side = padding_side
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return tokenizer, model


@torch.no_grad()
def qwen3_reference(path: Path, pairs, instruction=None, max_length=8192) -> list[float]:
    """QwenLM/Qwen3-Embedding README (the Qwen3-Reranker model card), "Transformers Usage"."""
    tokenizer, model = _load(
        path, padding_side="left"
    )  # AutoTokenizer(padding_side="left"), AutoModelForCausalLM
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
            first = [tokenizer.bos_token_id, *first]
        ids = _prepare_for_model_only_second(first, sep_inputs + passage_ids["input_ids"], encode_max_length)
        ids = ids + sep_inputs + prompt_inputs
        items.append({"input_ids": ids, "attention_mask": [1] * len(ids)})
    batch = tokenizer.pad(
        items, padding=True, max_length=encode_max_length, pad_to_multiple_of=8, return_tensors="pt"
    )
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
