"""Token counts that never race a forward pass.

A Hugging Face fast tokenizer keeps its truncation and padding settings on its one Rust object,
and every call sets them again (``PreTrainedTokenizerFast.set_truncation_and_padding``). A count
made in one thread (``tokenizer(query, add_special_tokens=False)``: no padding, no truncation)
while another thread's forward pass tokenizes its batch can switch that batch's padding or
truncation off between the two steps: ``ValueError: Unable to create tensor`` / "expected sequence
of length 434 at dim 1 (got 111)", or a pair over the model's length reaching the model
(huggingface/tokenizers#537, "the tokenizer is not thread-safe"). So everything rerankit counts
(document budgets, pair lengths, long-document windows, ``usage`` in ``serve``) goes through a copy
of the model's tokenizer made for counting, one call at a time; the forward passes keep the
original to themselves.
"""

from __future__ import annotations

import copy
import threading
import weakref
from typing import Any

_COPIES: weakref.WeakKeyDictionary[Any, CountingTokenizer] = weakref.WeakKeyDictionary()
_COPIES_LOCK = threading.Lock()


class CountingTokenizer:
    """A private copy of a tokenizer, called by one thread at a time.

    Calls take the copy's lock; attributes (``model_max_length``, ``num_special_tokens_to_add``,
    ...) read the copy's.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = copy.deepcopy(tokenizer)
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._tokenizer(*args, **kwargs)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """Special tokens the tokenizer adds to one text (``pair=False``) or a pair."""
        with self._lock:
            return int(self._tokenizer.num_special_tokens_to_add(pair=pair))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


def counting_tokenizer(tokenizer: Any) -> CountingTokenizer:
    """The counting copy of ``tokenizer`` (made once per tokenizer, shared by every caller)."""
    if isinstance(tokenizer, CountingTokenizer):
        return tokenizer
    with _COPIES_LOCK:
        found = _COPIES.get(tokenizer)
        if found is None:
            found = _COPIES[tokenizer] = CountingTokenizer(tokenizer)
        return found
