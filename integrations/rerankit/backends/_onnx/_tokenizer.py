"""Pairs to token ids with the checkpoint's own fast tokenizer (``tokenizer.json``), as transformers
encodes them for sentence-transformers.

The pair template (``[CLS] q [SEP] d [SEP]``, ``<s> q </s></s> d </s>``, ...) is the tokenizer's
post-processor, so it comes with ``tokenizer.json``. Padding and truncation are transformers'
settings, read from ``tokenizer_config.json`` (``padding_side``, ``truncation_side``, ``pad_token``)
with its defaults (right, right); transformers' ``PreTrainedTokenizerFast`` passes them to the
same Rust tokenizer (``tokenization_utils_fast.py``, ``set_truncation_and_padding``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rerankit._errors import ConfigurationError
from rerankit.backends._onnx._config import read_json
from rerankit.backends._onnx._files import CheckpointFiles

#: How a pair is cut to ``max_length``: the document only, or (when the query alone does not fit)
#: both, longest first, as transformers' ``truncation=True``.
TRUNCATIONS = ("only_second", "longest_first")


def _token_text(value: Any) -> str | None:
    """A special token as ``tokenizer_config.json`` or ``special_tokens_map.json`` write it."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class PairTokenizer:
    """The checkpoint's tokenizer, set up to encode (query, document) pairs of at most ``max_length``.

    Args:
        files: The checkpoint's files.
        max_length: Tokens per pair, special tokens included.
        model: The model id, for messages.
    """

    def __init__(self, files: CheckpointFiles, max_length: int, model: str) -> None:
        from tokenizers import Tokenizer

        path = files.optional("tokenizer.json")
        try:
            base = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises its own Exception type for a bad file
            raise ConfigurationError(f"cannot read tokenizer.json of onnx model {model!r}: {exc}") from exc
        settings = read_json(files.optional("tokenizer_config.json"))
        specials = read_json(files.optional("special_tokens_map.json"))
        config = read_json(files.optional("config.json"))
        self.max_length = max_length
        self.pad_right = settings.get("padding_side", "right") == "right"
        pad = _token_text(settings.get("pad_token")) or _token_text(specials.get("pad_token"))
        pad_id = base.token_to_id(pad) if pad is not None else None
        if pad_id is None:
            pad_id = config.get("pad_token_id")
        if not isinstance(pad_id, int):
            raise ConfigurationError(f"onnx model {model!r} names no padding token (pad_token, pad_token_id)")
        self.pad_id = pad_id
        base.no_padding()
        base.no_truncation()
        self._plain = base  # documents alone, for windows: no truncation
        direction = settings.get("truncation_side", "right")
        self._by_truncation = {}
        for strategy in TRUNCATIONS:
            tokenizer = Tokenizer.from_str(base.to_str())
            tokenizer.enable_truncation(max_length, strategy=strategy, direction=direction)
            self._by_truncation[strategy] = tokenizer
        self.special_tokens = (
            base.post_processor.num_special_tokens_to_add(True) if base.post_processor else 0
        )

    def truncation_for(self, query: str) -> str:
        """``only_second`` (cut the document, never the query) unless the query alone leaves no
        room for one document token; then ``longest_first``, as the local backend does."""
        query_tokens = len(self._plain.encode(query, add_special_tokens=False).ids)
        if query_tokens + self.special_tokens + 1 > self.max_length:
            return "longest_first"
        return "only_second"

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], truncation: str) -> list[Any]:
        """The tokenizer's encodings of ``pairs`` (ids, type ids, attention mask), unpadded."""
        return self._by_truncation[truncation].encode_batch(list(pairs))

    def document_budget(self, query: str) -> int:
        """Tokens left for a document beside ``query``: ``max_length`` minus the pair with an
        empty document, special tokens included."""
        overhead = len(self._plain.encode(query, "").ids)
        return self.max_length - overhead

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text``'s tokens (no special tokens)."""
        return [
            (int(start), int(end))
            for start, end in self._plain.encode(text, add_special_tokens=False).offsets
        ]

    def batch_arrays(self, encodings: Sequence[Any], input_names: Sequence[str]) -> dict[str, np.ndarray]:
        """The padded int64 arrays the network takes (``input_ids``, ``attention_mask`` and, when it
        has the input, ``token_type_ids``) for one forward pass."""
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            span = slice(0, n) if self.pad_right else slice(width - n, width)
            ids[row, span] = encoding.ids
            mask[row, span] = 1
            types[row, span] = encoding.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: arrays[name] for name in input_names}


__all__ = ["TRUNCATIONS", "PairTokenizer"]
