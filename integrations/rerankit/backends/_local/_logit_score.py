"""A sentence-transformers causal-LM reranker (``LogitScore`` head) with its shared prompt reused.

A checkpoint that ships its own sentence-transformers setup (``modules.json``: a
``Transformer(transformer_task="text-generation")`` then ``LogitScore``, such as
``cross-encoder-testing/Qwen3-Reranker-0.6B-STv54``) is scored by ``CrossEncoder.predict``, which
runs every pair whole. :class:`LogitScorePairs` takes that pipeline apart without changing what it
computes: the token ids are the ones sentence-transformers' own ``preprocess`` makes (its chat
template, prompt and truncation), and the score is ``LogitScore``'s (logit of the true token, minus
the false token's when it has one) followed by the CrossEncoder's activation, read from fp32
logits. In between, the pairs of one query share their prefix
(:func:`~rerankit.backends._local._prefix_reuse.score_token_ids`).

A pipeline of any other shape (more modules, images, inputs flattened for varlen attention) is
left to ``predict``: :meth:`LogitScorePairs.of` and :meth:`LogitScorePairs.encode` return None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rerankit.backends._local._llm import score_token_logits
from rerankit.backends._local._prefix_reuse import prefix_reuse_problem, score_token_ids

#: What ``preprocess`` may return for text pairs of a causal LM; anything else goes to ``predict``.
#: (transformers 4 tokenizers add all-zero ``token_type_ids``, which Qwen and Gemma decoders ignore.)
_TEXT_FEATURES = {
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "modality",
    "logits_to_keep",
    "prompt_length",
}


class LogitScorePairs:
    """The token ids and the score of a ``[Transformer(text-generation), LogitScore]`` CrossEncoder.

    Args:
        cross_encoder: the loaded ``sentence_transformers.CrossEncoder``.
        true_token_id: ``LogitScore.true_token_id``.
        false_token_id: ``LogitScore.false_token_id`` (None: the score is the true logit alone).
    """

    def __init__(self, cross_encoder: Any, true_token_id: int, false_token_id: int | None) -> None:
        self.cross_encoder = cross_encoder
        self.token_ids = [true_token_id] + ([false_token_id] if false_token_id is not None else [])
        tokenizer = cross_encoder.tokenizer
        self.pad_id = next((i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None), 0)

    @classmethod
    def of(cls, cross_encoder: Any) -> LogitScorePairs | None:
        """The pipeline taken apart, or None when it is not exactly a text causal LM and LogitScore
        on a model that can reuse a prefix."""
        from sentence_transformers.base.modules import Transformer
        from sentence_transformers.cross_encoder.modules import LogitScore

        modules = list(cross_encoder)
        if len(modules) != 2:
            return None
        transformer, head = modules
        if not (
            isinstance(transformer, Transformer)
            and getattr(transformer, "transformer_task", None) == "text-generation"
            and isinstance(head, LogitScore)
            and head.module_input_name == "causal_logits"
        ):
            return None
        if prefix_reuse_problem(cross_encoder.model) is not None:
            return None
        return cls(cross_encoder, head.true_token_id, head.false_token_id)

    def encode(self, pairs: Sequence[tuple[str, str]], kwargs: dict[str, Any]) -> list[list[int]] | None:
        """Each pair's token ids as ``preprocess`` makes them (padding removed); None when its
        features are not plain text ids."""
        features = self.cross_encoder.preprocess(list(pairs), **kwargs)
        if not set(features) <= _TEXT_FEATURES or "attention_mask" not in features:
            return None
        token_types = features.get("token_type_ids")
        if token_types is not None and bool(token_types.any()):
            return None
        mask = features["attention_mask"].bool()
        return [row[keep].tolist() for row, keep in zip(features["input_ids"], mask, strict=True)]

    def read_scores(self, hidden: Any) -> list[float]:
        """LogitScore's score from fp32 logits, then the CrossEncoder's activation (on a
        batch x 1 column, as ``predict`` applies it)."""
        import torch

        with torch.inference_mode():
            logits = score_token_logits(self.cross_encoder.model, hidden, self.token_ids)
            scores = logits[:, 0] - logits[:, 1] if len(self.token_ids) == 2 else logits[:, 0]
            activation = self.cross_encoder.activation_fn
            if activation is not None:
                scores = activation(scores.unsqueeze(1)).squeeze(1)
            return scores.float().cpu().tolist()

    def score(
        self,
        pairs: Sequence[tuple[str, str]],
        kwargs: dict[str, Any],
        *,
        device: str,
        batch_size: int,
        max_batch_tokens: int | None,
    ) -> list[float] | None:
        """One score per pair, the pairs of one query sharing their prefix; None when ``encode`` is."""
        encoded = self.encode(pairs, kwargs)
        if encoded is None:
            return None
        return score_token_ids(
            self.cross_encoder.model,
            [query for query, _ in pairs],
            encoded,
            read_scores=self.read_scores,
            pad_id=self.pad_id,
            device=device,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            reuse_prefix=True,
        )


__all__ = ["LogitScorePairs"]
