"""The RankGPT permutation prompt, as chat messages, and the passage budget.

Source: sunnweiwei/RankGPT ``rank_gpt.py`` (``get_prefix_prompt``, ``get_post_prompt``,
``create_permutation_instruction``), reproduced by AnswerDotAI rerankers ``rankgpt_rankers.py``
and rank_llm's RankGPT prompt: a system message, the task, then each passage as its own user
message ``[i] {text}`` acknowledged by the assistant, and a closing instruction asking for
``[] > []``. RankGPT cuts each passage to 300 words (characters for Chinese and Japanese).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

#: RankGPT's per-passage budget, in words.
DEFAULT_MAX_PASSAGE_WORDS = 300

SYSTEM_PROMPT = (
    "You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the query."
)


def permutation_messages(query: str, passages: Sequence[str]) -> list[dict[str, Any]]:
    """RankGPT's chat messages ranking ``passages`` (already cut) for ``query``.

    >>> [m["role"] for m in permutation_messages("q", ["a", "b"])]
    ['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user']
    >>> permutation_messages("q", ["a", "b"])[3]["content"]
    '[1] a'
    """
    num = len(passages)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"I will provide you with {num} passages, each indicated by number identifier []. \n"
            f"Rank the passages based on their relevance to query: {query}.",
        },
        {"role": "assistant", "content": "Okay, please provide the passages."},
    ]
    for rank, passage in enumerate(passages, start=1):
        messages.append({"role": "user", "content": f"[{rank}] {passage}"})
        messages.append({"role": "assistant", "content": f"Received passage [{rank}]."})
    messages.append(
        {
            "role": "user",
            "content": f"Search Query: {query}. \nRank the {num} passages above based on their relevance to "
            "the search query. The passages should be listed in descending order using identifiers. The "
            "most relevant passages should be listed first. The output format should be [] > [], e.g., "
            "[1] > [2]. Only response the ranking results, do not say any word or explain.",
        }
    )
    return messages


def passage_cutter(
    max_words: int | None = DEFAULT_MAX_PASSAGE_WORDS,
    max_characters: int | None = None,
    max_tokens: int | None = None,
    tokenizer: Any = None,
) -> Callable[[str], str]:
    """A function cutting a passage to the budget: words (RankGPT's whitespace words, joined by one
    space), characters (RankGPT's rule for Chinese and Japanese) and tokens of ``tokenizer`` (a
    Hugging Face tokenizer; the text is cut at a token's end offset). Every budget given applies.

    >>> passage_cutter(max_words=3)("one  two three four")
    'one two three'
    """

    def cut(text: str) -> str:
        text = text.strip()
        if max_words is not None:
            text = " ".join(text.split()[:max_words])
        if max_characters is not None:
            text = text[:max_characters]
        if max_tokens is not None and tokenizer is not None:
            offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            if len(offsets) > max_tokens:
                text = text[: offsets[max_tokens - 1][1]]
        return text

    return cut


__all__ = ["DEFAULT_MAX_PASSAGE_WORDS", "SYSTEM_PROMPT", "passage_cutter", "permutation_messages"]
