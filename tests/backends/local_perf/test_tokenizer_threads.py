"""Counting tokens in one thread never changes another thread's forward pass.

A fast tokenizer keeps its padding and truncation settings on one shared Rust object and every
call sets them again, so a count (no padding, no truncation) made while a forward pass tokenizes
its batch used to switch that batch's padding off: ``ValueError: Unable to create tensor`` (a 500
from ``rerankit serve`` under load). Counts now go through a copy (``_token_counts``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rerankit.backends import LocalCrossEncoder
from rerankit.backends._token_counts import CountingTokenizer, counting_tokenizer

QUERY = "what limits a reranker's input length"
DOCUMENTS = [
    "short passage",
    "a passage of medium length about rerankers, tokens and the limits of their input " * 3,
    "a long page that does not fit the model's length and must be cut to it " * 60,
    "another short one",
]


def test_counts_run_on_a_copy_shared_by_every_caller(bert_model: Path) -> None:
    backend = LocalCrossEncoder(str(bert_model), device="cpu")
    original = backend.cross_encoder.tokenizer
    counter = counting_tokenizer(original)
    assert isinstance(counter, CountingTokenizer)
    assert counting_tokenizer(original) is counter and counting_tokenizer(counter) is counter
    assert counter._tokenizer is not original and counter._tokenizer._tokenizer is not original._tokenizer
    assert (
        counter("a passage", add_special_tokens=False)["input_ids"]
        == original("a passage", add_special_tokens=False)["input_ids"]
    )
    assert counter.num_special_tokens_to_add(pair=True) == original.num_special_tokens_to_add(pair=True)


def test_counting_beside_forward_passes_changes_no_score(bert_model: Path) -> None:
    backend = LocalCrossEncoder(str(bert_model), device="cpu", batch_size=4)
    expected = backend.score(QUERY, DOCUMENTS).values
    other_query = "a second question, scored at the same time"
    other_expected = backend.score(other_query, DOCUMENTS).values
    stop = threading.Event()
    errors: list[BaseException] = []

    def count() -> None:
        # what the core's long-document windows, the cache and serve's usage ask while others score
        try:
            while not stop.is_set():
                backend.token_offsets(DOCUMENTS[2])
                backend.document_token_budget(other_query)
                backend._pair_lengths([(QUERY, text) for text in DOCUMENTS])
        except BaseException as exc:
            errors.append(exc)

    def score(query: str, want: list[float], rounds: int) -> None:
        try:
            for _ in range(rounds):
                assert backend.score(query, DOCUMENTS).values == pytest.approx(want, abs=1e-6)
        except BaseException as exc:
            errors.append(exc)

    counters = [threading.Thread(target=count) for _ in range(2)]
    scorers = [
        threading.Thread(target=score, args=(QUERY, expected, 40)),
        threading.Thread(target=score, args=(other_query, other_expected, 40)),
    ]
    for thread in counters + scorers:
        thread.start()
    for thread in scorers:
        thread.join()
    stop.set()
    for thread in counters:
        thread.join()
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
