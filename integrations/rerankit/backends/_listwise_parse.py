"""Reading a listwise LLM's permutation answer (``[3] > [1] > [2]``) robustly and deterministically.

LLMs wrap the ranking in prose, repeat identifiers, skip some, invent others, or think aloud
first. The repair follows rank_llm's ``receive_permutation`` (castorini/rank_llm
``src/rank_llm/rerank/listwise/listwise_rankllm.py``, itself RankGPT's): keep the first
occurrence of each identifier, drop those outside ``1..n``, and append the missing ones in their
prior order. Unlike RankGPT's ``clean_response``, which reads every digit of the answer, only
bracketed identifiers count (or, when there are none, a bare ``3 > 1 > 2`` chain), so numbers in
prose ("the top 3 passages") are not mistaken for a ranking; a reasoning model's
``<think>...</think>`` block is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_BRACKETED = re.compile(r"\[\s*(\d+)\s*\]")
_BARE_CHAIN = re.compile(r"\d+(?:\s*>\s*\d+)+")


@dataclass(frozen=True)
class Permutation:
    """A window's repaired order: ``order`` holds every position ``0..n-1`` exactly once.

    Attributes:
        order: window positions (0-based), best first.
        ranked: how many came from the answer (the rest were missing and appended in prior order).
        dropped: identifiers the answer gave that were repeated or outside ``1..n``.
    """

    order: list[int]
    ranked: int
    dropped: int


def identifiers(answer: str) -> list[int]:
    """The 1-based identifiers an answer ranks, in its order, before any repair.

    >>> identifiers("Sure! [3] > [1] > [2], as [3] is the best.")
    [3, 1, 2, 3]
    >>> identifiers("<think>maybe [2]</think> 3 > 1 > 2")
    [3, 1, 2]
    """
    text = _THINK.sub(" ", answer)
    found = [int(match) for match in _BRACKETED.findall(text)]
    if found:
        return found
    chain = _BARE_CHAIN.search(text)
    return [int(number) for number in re.findall(r"\d+", chain.group(0))] if chain else []


def parse_permutation(answer: str, count: int) -> Permutation | None:
    """The repaired order of a window of ``count`` passages, or ``None`` if the answer ranks none.

    >>> parse_permutation("[3] > [1] > [3] > [9]", 4)
    Permutation(order=[2, 0, 1, 3], ranked=2, dropped=2)
    >>> parse_permutation("I cannot rank these.", 4) is None
    True
    """
    seen: list[int] = []
    dropped = 0
    for identifier in identifiers(answer):
        position = identifier - 1
        if 0 <= position < count and position not in seen:
            seen.append(position)
        else:
            dropped += 1
    if not seen:
        return None
    missing = [position for position in range(count) if position not in seen]
    return Permutation(order=seen + missing, ranked=len(seen), dropped=dropped)


__all__ = ["Permutation", "identifiers", "parse_permutation"]
