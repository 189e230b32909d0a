"""Causal-LM pairs through the decoder, each query's shared prompt computed once.

Every pair of one query starts with the same token ids: Qwen3-Reranker's system prompt,
instruction and query, zerank's system turn holding the query, mxbai's chat prefix and query,
bge-reranker-v2-gemma's ``[bos] A: {query}``. A causal LM's keys and values at those positions do
not depend on what follows, so they are computed once per query (one pass over the prefix, batch
of one) and every batch of that query's documents attends to them: the batch runs only each
pair's own tail (the document and the format's suffix), right-padded, at positions that continue
the prefix, with the prefix's keys and values expanded along the batch inside attention.

The shared prefix is found on the token ids themselves (their longest common prefix), so what the
model sees is exactly what the full recomputation sees, whatever the format or tokenizer (a
document's first token that merges with the text before it only shortens the prefix). It is cut
one token short of the shortest pair, so each pair computes its last position itself.

Reuse falls back to full recomputation (pairs padded on the left, as the model cards do) for a
query with one document, for pairs that share fewer than :data:`MIN_SHARED_TOKENS` tokens (a
layout that puts the document before the query shares only the template's opening), and for
models whose cache is not plain full attention (:func:`prefix_reuse_problem`).

The cache (``transformers.cache_utils``, read in 4.57 and 5.x): ``DynamicCache`` would expand a
prefix with ``batch_repeat_interleave``, a copy per layer, and its ``DynamicLayer.update`` stores
every layer's concatenated keys and values until the forward pass ends, and is changed by it, so
it cannot serve a second batch. Here each layer keeps the prefix at batch one and hands attention
``cat(prefix.expand(batch), new)``, storing nothing: a forward pass holds one layer's copy at a
time, and the prefix serves every batch of its query.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from rerankit import _tracing
from rerankit.backends._local._batching import token_budget_batches

#: Fewer shared tokens than this and a query's pairs are computed whole: too little to save to be
#: worth a pass of its own (the template's opening, when a layout puts the document first).
MIN_SHARED_TOKENS = 8
#: Decoder families whose layers are plain full attention with a per-layer key/value cache (the
#: ones the LLM formats run on, tested against the reference recipes). Others are computed whole.
REUSABLE_MODEL_TYPES = ("qwen2", "qwen3", "gemma")

#: Reads scores from the last position's hidden states (batch x hidden), one float per row.
ReadScores = Callable[[Any], list[float]]


def prefix_reuse_problem(model: Any) -> str | None:
    """Why ``model`` (a ``*ForCausalLM``) cannot reuse a prefix cache, or None when it can."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    model_type = getattr(config, "model_type", None)
    if model_type not in REUSABLE_MODEL_TYPES:
        return f"model type {model_type!r} is not one of {', '.join(REUSABLE_MODEL_TYPES)}"
    layer_types = set(getattr(config, "layer_types", None) or ["full_attention"])
    if layer_types != {"full_attention"} or (
        getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True)
    ):
        return "its attention uses a sliding window"
    if _cache_keyword(model.base_model) is None:
        return "its decoder takes no cache"
    return None


@functools.cache
def _cache_keyword_of(forward: Any) -> str | None:
    parameters = inspect.signature(forward).parameters
    # transformers 5 renamed past_key_values to cache (the old name is deprecated until 5.40)
    return next((name for name in ("cache", "past_key_values") if name in parameters), None)


def _cache_keyword(decoder: Any) -> str | None:
    return _cache_keyword_of(type(decoder).forward)


@dataclass(frozen=True)
class SharedPrefix:
    """Pairs (by position) whose token ids all start with ``ids``."""

    ids: list[int]
    positions: list[int]


def shared_prefixes(
    keys: Sequence[Hashable], encoded: Sequence[list[int]]
) -> tuple[list[SharedPrefix], list[int]]:
    """Group pairs by ``keys`` (their query) and find each group's shared prefix.

    Returns the groups that reuse a prefix and the positions of the pairs computed whole.

    >>> shared_prefixes(["q", "q", "r"], [[1] * 9 + [2, 3], [1] * 9 + [4], [1] * 9 + [5]])
    ([SharedPrefix(ids=[1, 1, 1, 1, 1, 1, 1, 1, 1], positions=[0, 1])], [2])
    """
    by_key: dict[Hashable, list[int]] = {}
    for position, key in enumerate(keys):
        by_key.setdefault(key, []).append(position)
    groups, whole = [], []
    for positions in by_key.values():
        length = _shared_length([encoded[p] for p in positions]) if len(positions) > 1 else 0
        if length >= MIN_SHARED_TOKENS:
            groups.append(SharedPrefix(list(encoded[positions[0]][:length]), positions))
        else:
            whole.extend(positions)
    return groups, sorted(whole)


def _shared_length(sequences: list[list[int]]) -> int:
    """The longest common prefix, one token short of the shortest sequence."""
    low, high = min(sequences), max(sequences)  # lexicographic: their common prefix is everyone's
    common = next((i for i, (a, b) in enumerate(zip(low, high, strict=False)) if a != b), len(low))
    return min(common, min(len(s) for s in sequences) - 1)


def score_token_ids(
    model: Any,
    keys: Sequence[Hashable],
    encoded: Sequence[list[int]],
    *,
    read_scores: ReadScores,
    pad_id: int,
    device: str,
    batch_size: int,
    max_batch_tokens: int | None,
    reuse_prefix: bool,
) -> list[float]:
    """One score per pair of token ids, in order, from the last position of each.

    Pairs of one key (query) share their prefix when ``reuse_prefix`` and the model allow it;
    every forward pass holds at most ``batch_size`` pairs and ``max_batch_tokens`` padded tokens,
    prefix included, longest first; pairs computed whole share passes across keys.
    """
    scores = [0.0] * len(encoded)
    if reuse_prefix and prefix_reuse_problem(model) is None:
        groups, whole = shared_prefixes(keys, encoded)
    else:
        groups, whole = [], list(range(len(encoded)))
    decoder = model.base_model
    for group in groups:
        prefix = _PrefixCache.compute(decoder, group.ids, device)
        lengths = [len(encoded[p]) for p in group.positions]
        for batch in token_budget_batches(lengths, batch_size, max_batch_tokens):
            positions = [group.positions[i] for i in batch]
            hidden = prefix.last_hidden_states([encoded[p][len(group.ids) :] for p in positions], pad_id)
            _put(scores, positions, read_scores(hidden))
    lengths = [len(encoded[p]) for p in whole]
    for batch in token_budget_batches(lengths, batch_size, max_batch_tokens):
        positions = [whole[i] for i in batch]
        hidden = last_hidden_states(decoder, [encoded[p] for p in positions], pad_id, device)
        _put(scores, positions, read_scores(hidden))
    return scores


def _put(scores: list[float], positions: list[int], values: list[float]) -> None:
    for position, value in zip(positions, values, strict=True):
        scores[position] = value


def last_hidden_states(decoder: Any, batch: list[list[int]], pad_id: int, device: str) -> Any:
    """The last position's hidden states of whole pairs, padded on the left (as the model cards do)."""
    import torch

    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):  # left padding: every pair ends at the last position
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, width - len(ids) :] = 1
    with torch.inference_mode(), _tracing.forward_pass(len(batch), len(batch) * width, device):
        output = decoder(
            input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), use_cache=False
        )
        return output.last_hidden_state[:, -1, :]


class _PrefixCache:
    """One prefix's keys and values per layer, at batch one, and the passes that attend to them."""

    def __init__(self, decoder: Any, layers: list[tuple[Any, Any]], device: str) -> None:
        self.decoder = decoder
        self.layers = layers
        self.length = int(layers[0][0].shape[-2])
        self.device = device

    @classmethod
    def compute(cls, decoder: Any, ids: list[int], device: str) -> _PrefixCache:
        """Run the prefix once (positions 0..len-1, no padding) and keep its keys and values."""
        import torch
        from transformers.cache_utils import DynamicCache

        cache = DynamicCache()
        with torch.inference_mode(), _tracing.forward_pass(1, len(ids), device):
            decoder(
                input_ids=torch.tensor([ids], dtype=torch.long, device=device),
                use_cache=True,
                **{_cache_keyword(decoder): cache},
            )
        return cls(decoder, [(layer.keys, layer.values) for layer in cache.layers], device)

    def last_hidden_states(self, tails: list[list[int]], pad_id: int) -> Any:
        """The last real position's hidden states of prefix + tail, for each tail.

        The tails are padded on the right, so each starts right after the prefix at position
        ``len(prefix)``; a causal mask keeps every real token from seeing the padding after it, and
        the attention mask keeps it out of the keys as well.
        """
        import torch
        from transformers.cache_utils import Cache

        rows, width, length = len(tails), max(len(t) for t in tails), self.length
        input_ids = torch.full((rows, width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((rows, length + width), dtype=torch.long)
        attention_mask[:, :length] = 1
        for row, tail in enumerate(tails):
            input_ids[row, : len(tail)] = torch.tensor(tail, dtype=torch.long)
            attention_mask[row, length : length + len(tail)] = 1
        positions = torch.arange(length, length + width, dtype=torch.long).expand(rows, width)
        layer_class = _shared_prefix_layer()
        cache = Cache(layers=[layer_class(keys, values) for keys, values in self.layers])
        last = torch.tensor([len(t) - 1 for t in tails], device=self.device)
        with torch.inference_mode(), _tracing.forward_pass(rows, rows * width, self.device):
            output = self.decoder(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                position_ids=positions.to(self.device),
                use_cache=True,
                **{_cache_keyword(self.decoder): cache},
            )
            return output.last_hidden_state[torch.arange(rows, device=self.device), last]


@functools.cache
def _shared_prefix_layer() -> type:
    """The cache layer class (made on first use: this module imports neither torch nor transformers)."""
    import torch
    from transformers.cache_utils import DynamicLayer

    class SharedPrefixLayer(DynamicLayer):
        """A layer holding a prefix's keys and values at batch one; attention gets them expanded
        along the batch and followed by the batch's own, and nothing of the batch is stored."""

        def __init__(self, keys: Any, values: Any) -> None:
            super().__init__()
            self.keys, self.values = keys, values
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            rows = key_states.shape[0]
            keys = torch.cat([self.keys.expand(rows, -1, -1, -1), key_states], dim=-2)
            values = torch.cat([self.values.expand(rows, -1, -1, -1), value_states], dim=-2)
            return keys, values

    return SharedPrefixLayer


__all__ = [
    "MIN_SHARED_TOKENS",
    "REUSABLE_MODEL_TYPES",
    "SharedPrefix",
    "last_hidden_states",
    "prefix_reuse_problem",
    "score_token_ids",
    "shared_prefixes",
]
