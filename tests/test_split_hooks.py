"""The core's optional backend hooks: ``split_request`` (limits that are not a count) and
``load_limits``/``aload_limits`` (limits learned from the server before the first split)."""

from __future__ import annotations

import pytest

from rerankit import ConfigurationError, Reranker
from rerankit._types import Scores
from rerankit.backends._splitting import pack_by_cost


class BudgetBackend:
    """Scores a text by its length; a request may hold at most ``budget`` characters."""

    name = "budget"
    model = "length"
    max_concurrency = 1

    def __init__(self, budget: int, max_documents_per_request: int | None = None) -> None:
        self.budget = budget
        self.max_documents_per_request = max_documents_per_request
        self.requests: list[list[str]] = []
        self.loads = 0

    def split_request(self, query: str, texts: list[str]) -> list[list[str]]:
        return pack_by_cost(texts, len, self.budget)

    def load_limits(self) -> None:
        self.loads += 1

    async def aload_limits(self) -> None:
        self.loads += 10

    def score(self, query: str, texts: list[str]) -> Scores:
        assert sum(map(len, texts)) <= self.budget or len(texts) == 1
        self.requests.append(list(texts))
        return Scores(values=[float(len(text)) for text in texts])

    async def ascore(self, query: str, texts: list[str]) -> Scores:
        return self.score(query, texts)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


TEXTS = [letter * n for letter, n in zip("abcdefgh", (5, 1, 7, 3, 3, 9, 2, 4), strict=True)]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_split_request_parts_are_merged_by_global_index(mode: str) -> None:
    backend = BudgetBackend(budget=10, max_documents_per_request=3)
    reranker = Reranker(backend)
    response = reranker.rerank("q", TEXTS) if mode == "sync" else await reranker.arerank("q", TEXTS)
    # first cut to 3 documents, then each part to 10 characters
    assert backend.requests == [TEXTS[0:2], TEXTS[2:3], TEXTS[3:5], TEXTS[5:6], TEXTS[6:8]]
    assert [r.index for r in response.results] == [5, 2, 0, 7, 3, 4, 6, 1]
    assert all(r.relevance_score == len(TEXTS[r.index]) for r in response.results)
    assert response.usage.requests == 5
    assert backend.loads == (1 if mode == "sync" else 10)  # the limits hook of the path taken


def test_a_split_that_loses_texts_is_refused() -> None:
    backend = BudgetBackend(budget=10)
    backend.split_request = lambda query, texts: [texts[:-1]]
    with pytest.raises(ConfigurationError, match="lost or reordered"):
        Reranker(backend).rerank("q", TEXTS)
    assert backend.requests == []


def test_pack_by_cost_keeps_order_and_puts_an_oversize_text_alone() -> None:
    assert pack_by_cost(["aa", "bbbbbb", "c"], len, 4) == [["aa"], ["bbbbbb"], ["c"]]
    assert pack_by_cost([], len, 4) == []
