"""Tiny offline checkpoints of the late-interaction and seq2seq families, for tests and docs.

Like :mod:`rerankit.testing.models`, nothing here touches the Hugging Face hub and every builder
is seeded: the same call gives the same weights.

>>> path = build_t5_reranker(tmp_path / "t5")  # doctest: +SKIP
>>> Reranker(f"t5/{path}", family="monot5")  # doctest: +SKIP
"""

from __future__ import annotations

import string
from pathlib import Path

#: Words the T5 tokenizer is trained on: the prompt's own words, the score words of every family
#: and some ordinary text, so that documents tokenize into several pieces.
_T5_CORPUS = [
    "Query: what is bm25 Document: BM25 is a bag of words ranking function Relevant: true",
    "Query: capital of france Document: Bananas are yellow fruit Relevant: false",
    "Query: consulta Document: documento relevante Relevant: yes no",
    "Rerankers score a query and a document together with full cross attention.",
    "Dense retrieval embeds queries and passages into one vector space.",
    "Paris is the capital of France and Berlin is the capital of Germany.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "true false yes no maybe relevant irrelevant passage sentence",
]

#: The score words every seq2seq family uses, each kept one piece by the trained vocabulary.
T5_SCORE_TOKENS = ("▁true", "▁false", "▁yes", "▁no")


def build_t5_reranker(path: str | Path, *, seed: int = 0) -> Path:
    """A 2-layer ``T5ForConditionalGeneration`` with a SentencePiece-style (Unigram + Metaspace)
    tokenizer trained on the spot; ``▁true``, ``▁false``, ``▁yes`` and ``▁no`` are single pieces.

    Special ids follow T5: ``<pad>`` 0 (also the decoder start token), ``</s>`` 1, ``<unk>`` 2; a
    single text is encoded as ``$A </s>``, as T5's tokenizer does.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    path = Path(path)
    torch.manual_seed(seed)
    specials = ["<pad>", "</s>", "<unk>"]
    raw = Tokenizer(models.Unigram())
    raw.normalizer = normalizers.NFKC()
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=220, special_tokens=specials, unk_token="<unk>")
    raw.train_from_iterator(_T5_CORPUS * 4, trainer=trainer)
    raw.add_tokens([token for token in T5_SCORE_TOKENS if raw.token_to_id(token) is None])
    eos = raw.token_to_id("</s>")
    raw.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos)]
    )
    tokenizer = T5TokenizerFast(
        tokenizer_object=raw,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_ids=0,
        model_max_length=512,
    )
    for token in T5_SCORE_TOKENS:  # each must stay one piece, as in the real vocabularies
        assert tokenizer.convert_tokens_to_ids(token) != tokenizer.unk_token_id, token
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos,
        decoder_start_token_id=tokenizer.pad_token_id,
        initializer_factor=1.0,  # wide enough that the random true/false logits spread apart
    )
    T5ForConditionalGeneration(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_minilm_colbert(
    path: str | Path,
    *,
    seed: int = 0,
    query_expansion_length: int | None = 16,
    skiplist_punctuation: bool = True,
    document_length: int | None = 128,
    similarity: str = "maxsim",
    num_layers: int | None = 2,
) -> Path:
    """The shipped all-MiniLM-L6-v2 converted to a sentence-transformers ``MultiVectorEncoder``.

    sentence-transformers (>= 6) drops the pooling, adds a seeded token-level 384 -> 128
    projection, the scoring mask and per-token normalisation. The builder also sets the ColBERT
    knobs a real checkpoint carries in its config, so tests can check they are honoured: query and
    document prompts (``"query: "`` / ``"passage: "``), ColBERT query expansion to
    ``query_expansion_length`` tokens (``None``: off), a punctuation skiplist on documents, a
    ``document_length`` and the ``similarity`` (``"maxsim"`` or ``"meanmaxsim"``). Only the first
    ``num_layers`` of MiniLM's 6 layers are kept (``None``: all), so tests run fast on CPU.
    """
    import torch
    from sentence_transformers import MultiVectorEncoder
    from sentence_transformers.multi_vector_encoder.modules import MultiVectorMask

    from rerankit.testing.models import minilm_model_dir  # imported here: models re-exports this module

    path = Path(path)
    torch.manual_seed(seed)
    model = MultiVectorEncoder(
        str(minilm_model_dir()),
        device="cpu",
        prompts={"query": "query: ", "document": "passage: "},
        similarity_fn_name=similarity,
    )
    transformer = model[0]
    if num_layers is not None:
        body = transformer.model
        body.encoder.layer = body.encoder.layer[:num_layers]
        body.config.num_hidden_layers = num_layers
    transformer.document_length = document_length
    if query_expansion_length is not None:
        transformer.query_expansion = {"strategy": "fixed", "attend": False, "length": query_expansion_length}
    if skiplist_punctuation:
        for module in model:
            if isinstance(module, MultiVectorMask):
                module.skiplist_words = list(string.punctuation)
                module.resolve_with_tokenizer(model.tokenizer)
    model.save(str(path))
    return path


__all__ = ["T5_SCORE_TOKENS", "build_minilm_colbert", "build_t5_reranker"]
