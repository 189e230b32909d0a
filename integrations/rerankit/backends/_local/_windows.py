"""What the core's long-document chunking and score cache ask of the local backends.

:class:`CrossEncoderWindows` and :class:`EmbeddingWindows` are mixins: they implement
:class:`rerankit._chunking.TokenWindows` with the model's own tokenizer (so a window is exactly
what fits beside the query in the model's ``max_length``) and ``cache_key()``, the settings that
change a score.
"""

from __future__ import annotations

from typing import Any

from rerankit._errors import ConfigurationError
from rerankit.backends._local._devices import device_lock
from rerankit.backends._token_counts import counting_tokenizer


def tokenizer_offsets(tokenizer: Any, text: str, model: str) -> list[tuple[int, int]]:
    """Character spans of ``text``'s tokens (no special tokens), from a fast tokenizer's offsets.

    Raises:
        ConfigurationError: when the tokenizer cannot give offsets (a slow, pure-Python one).
    """
    try:
        encoded = counting_tokenizer(tokenizer)(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
    except NotImplementedError as exc:
        raise ConfigurationError(
            f"long_documents='chunk' needs a fast (Rust) tokenizer with character offsets; "
            f"{model!r} loads {type(tokenizer).__name__}"
        ) from exc
    return [(int(start), int(end)) for start, end in encoded["offset_mapping"]]


class CrossEncoderWindows:
    """Token windows and cache key of :class:`~rerankit.backends._local.LocalCrossEncoder`."""

    name: str
    model: str
    cross_encoder: Any
    llm: Any
    instruction: str | None
    device: str

    def _window_limit(self) -> int:
        if self.llm is not None:  # an LLM format's scorer: its own max_length, prompt included
            return int(self.llm.max_length)
        return int(self.cross_encoder.max_seq_length or self.cross_encoder.tokenizer.model_max_length)

    def document_token_budget(self, query: str) -> int:
        """Tokens left for the document in one pair with ``query``: ``max_length`` minus the tokens of
        the pair with an empty document, as the scorer itself builds it (special tokens for a
        classifier; the whole prompt, instruction and suffix for an LLM reranker)."""
        if self.llm is not None:  # the format's own encoding of the pair (LLMReranker, VisionReranker)
            overhead = len(self.llm.encode_pairs([(query, "")], self.instruction)[0])
            return self._window_limit() - overhead
        # preprocess sets the shared tokenizer's truncation and padding: never beside a forward pass
        with device_lock(self.device):
            features = self.cross_encoder.preprocess([(query, "")], prompt=self.instruction)
        overhead = int(features["attention_mask"][0].sum())
        return self._window_limit() - overhead

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text``'s tokens under the model's tokenizer."""
        return tokenizer_offsets(self.cross_encoder.tokenizer, text, self.model)

    def cache_key(self) -> dict[str, Any]:
        """What changes this backend's scores: the score cache keys on it.

        The device is left out: at one dtype, CPU and GPU scores agree to float rounding.
        """
        return {
            "backend": self.name,
            "model": self.model,
            "revision": getattr(self, "revision", None),
            "runtime": getattr(self, "runtime", None),
            "model_file": getattr(self, "model_file", None),
            "dtype": getattr(self, "dtype", None),
            "max_length": self._window_limit(),
            "instruction": self.instruction,
            "llm_reranker": getattr(self, "is_llm_reranker", None),
            "num_labels": getattr(self, "num_labels", None),
        }


class EmbeddingWindows:
    """Token windows and cache key of :class:`~rerankit.backends._local._embedding.EmbeddingBackend`."""

    name: str
    model: str
    encoder: Any
    document_prompt: str | None

    def _document_prompt(self) -> str:
        if self.document_prompt is not None:
            return self.document_prompt
        prompts = getattr(self.encoder, "prompts", None) or {}
        # sentence-transformers' encode_document picks the first of these the model defines
        return next((prompts[name] for name in ("document", "passage", "corpus") if name in prompts), "")

    def document_token_budget(self, query: str) -> int:
        """Tokens left for a document: the model's ``max_seq_length`` minus its special tokens and
        the document prompt (a bi-encoder embeds the document alone, so the query takes none)."""
        tokenizer = counting_tokenizer(self.encoder.tokenizer)
        prompt = self._document_prompt()
        prompt_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) if prompt else 0
        return (
            int(self.encoder.max_seq_length) - tokenizer.num_special_tokens_to_add(pair=False) - prompt_tokens
        )

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text``'s tokens under the model's tokenizer."""
        return tokenizer_offsets(self.encoder.tokenizer, text, self.model)

    def cache_key(self) -> dict[str, Any]:
        """What changes this backend's scores: the score cache keys on it."""
        return {
            "backend": self.name,
            "model": self.model,
            "location": getattr(self, "location", None),
            "revision": getattr(self, "revision", None),
            "runtime": getattr(self, "runtime", None),
            "dtype": getattr(self, "dtype", None),
            "max_length": int(self.encoder.max_seq_length),
            "similarity": getattr(self, "similarity", None),
            "query_prompt": getattr(self, "query_prompt", None),
            "document_prompt": self._document_prompt(),
            "truncate_dim": getattr(self, "truncate_dim", None),
        }


__all__ = ["CrossEncoderWindows", "EmbeddingWindows", "tokenizer_offsets"]
