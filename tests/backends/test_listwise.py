"""``listwise/``: RankGPT sliding windows over a loopback OpenAI-compatible chat-completions server.

The server's "LLM" ranks each window by a number written in the passage (a perfect window
ranker), or answers one of the adversarial forms an LLM produces; it checks every request
against OpenAI's documented chat format and counts tokens.
"""

from __future__ import annotations

import asyncio
import random
import re

import pytest

from rerankit import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    MalformedResponseError,
    Reranker,
    ServerError,
)
from rerankit.backends._listwise import sliding_windows
from rerankit.testing.servers import ChatCompletionsServer

QUERY = "which passage has the largest number"


def value(text: str) -> int:
    return int(re.search(r"value (\d+)", text).group(1))


def passages(count: int, seed: int = 0) -> list[str]:
    numbers = random.Random(seed).sample(range(10_000), count)
    return [f"passage with value {n} and some filler words" for n in numbers]


@pytest.fixture
def server():
    with ChatCompletionsServer(relevance=value) as running:
        yield running


def reranker_for(server: ChatCompletionsServer, **options) -> Reranker:
    options.setdefault("backoff_base", 0.0)
    return Reranker("listwise/test-llm", base_url=server.base_url, api_key="test-key", **options)


def test_a_perfect_window_ranker_puts_the_true_top_step_first(server):
    documents = passages(50)
    response = reranker_for(server).rerank(QUERY, documents)
    true_order = sorted(documents, key=value, reverse=True)
    assert [r.document for r in response.results[:10]] == true_order[:10]
    assert sorted(r.index for r in response.results) == list(range(50))  # nothing lost or doubled
    records = server.records
    assert [len(record.passages) for record in records] == [20, 20, 20, 20]
    # the first window is the back of the list, the last one the front
    assert records[0].passages == [d.strip() for d in documents[30:]]
    assert response.usage.tokens == server.prompt_tokens + server.completion_tokens
    assert server.completion_tokens > 0 and server.prompt_tokens > 0


@pytest.mark.parametrize(("count", "windows"), [(1, 0), (2, 1), (20, 1), (25, 2), (50, 4), (100, 9)])
def test_windows_per_call(server, count: int, windows: int):
    response = reranker_for(server).rerank(QUERY, passages(count))
    assert len(server.records) == windows == len(sliding_windows(count, 20, 10))
    assert len(response.results) == count


def test_window_and_step_options(server):
    documents = passages(30)
    response = reranker_for(server, window_size=8, step=4).rerank(QUERY, documents)
    assert [len(r.passages) for r in server.records] == [8] * 6 + [6]  # (22, 30) ... (2, 10), (0, 6)
    assert [r.document for r in response.results[:4]] == sorted(documents, key=value, reverse=True)[:4]
    with pytest.raises(ConfigurationError, match="step less than it"):
        reranker_for(server, window_size=10, step=10)


def test_scores_are_one_over_rank_and_threshold_before_top_n(server):
    documents = passages(12)
    reranker = reranker_for(server)
    response = reranker.rerank(QUERY, documents)
    scores = [r.relevance_score for r in response.results]
    assert scores == [1.0 / rank for rank in range(1, 13)]
    assert all(type(s) is float for s in scores)
    assert len(reranker.rerank(QUERY, documents, score_threshold=1 / 5).results) == 5
    assert len(reranker.rerank(QUERY, documents, score_threshold=1 / 5, top_n=3).results) == 3


def test_the_request_is_openai_chat_format(server):
    long_passage = "value 7 " + "word " * 500
    reranker_for(server, max_completion_tokens=64, extra_body={"seed": 1}).rerank(
        QUERY, [long_passage, "value 3"]
    )
    (record,) = server.records
    body = record.json
    assert body["model"] == "test-llm" and body["temperature"] == 0.0
    assert body["max_completion_tokens"] == 64 and body["seed"] == 1
    assert record.headers["authorization"] == "Bearer test-key"
    assert [m["role"] for m in body["messages"]][:3] == ["system", "user", "assistant"]
    assert body["messages"][3]["content"] == "[1] " + " ".join(
        long_passage.split()[:300]
    )  # RankGPT's 300 words
    assert "Rank the 2 passages above" in body["messages"][-1]["content"]


def test_the_server_is_strict(server):
    with pytest.raises(InvalidRequestError, match="logit_bias"):
        reranker_for(server, extra_body={"logit_bias": {}}).rerank(QUERY, passages(3))
    with pytest.raises(AuthenticationError):
        Reranker("listwise/test-llm", base_url=server.base_url, api_key="wrong").rerank(QUERY, passages(3))


def test_a_token_budget_cuts_passages_with_the_tokenizer(server):
    from transformers import AutoTokenizer

    from rerankit.testing.models import minilm_model_dir

    tokenizer = AutoTokenizer.from_pretrained(minilm_model_dir())
    text = "value 5 " + "tokenization splits unbelievably long words " * 20
    reranker_for(server, max_passage_tokens=12, tokenizer=tokenizer).rerank(QUERY, [text, "value 1"])
    sent = server.records[0].passages[0]
    assert len(tokenizer(sent, add_special_tokens=False)["input_ids"]) == 12
    assert text.startswith(sent)


# -- adversarial answers --------------------------------------------------------------------------


#: For one window of 8: the order the repaired answer must give (positions in the input).
def expected_window_order(documents: list[str], fault: str) -> list[int]:
    best_first = sorted(range(len(documents)), key=lambda i: -value(documents[i]))
    if fault == "missing":  # the answer ranks the best half; the rest keep their prior (input) order
        ranked = best_first[:4]
        return ranked + [i for i in range(8) if i not in ranked]
    if fault == "reversed":
        return best_first[::-1]
    return best_first


@pytest.mark.parametrize(
    "fault", ["prose", "duplicates", "missing", "out-of-range", "think", "bare-numbers", "reversed"]
)
def test_adversarial_answers_are_repaired_deterministically(server, fault: str):
    documents = passages(8, seed=3)
    server.fail_next(fault)
    response = reranker_for(server).rerank(QUERY, documents)
    assert [r.index for r in response.results] == expected_window_order(documents, fault)
    assert len(server.records) == 1  # repaired, not retried


@pytest.mark.parametrize("fault", ["no-ranking", "null-content", "no-choices"])
def test_an_unusable_answer_is_retried_then_malformed(server, fault: str):
    documents = passages(6)
    server.fail_next(fault)
    response = reranker_for(server).rerank(QUERY, documents)  # the retry gets a usable answer
    assert len(server.records) == 2
    assert [r.document for r in response.results] == sorted(documents, key=value, reverse=True)
    server.reset()
    server.fail_next(*[fault] * 3)
    with pytest.raises(MalformedResponseError, match="gave up after 3 attempts") as caught:
        reranker_for(server, max_retries=2).rerank(QUERY, documents)
    assert caught.value.status_code == 200 and caught.value.provider == "listwise"
    assert len(server.records) == 3


def test_http_failures_use_the_transports_retries(server):
    server.fail_next("503", "429")
    response = reranker_for(server).rerank(QUERY, passages(5))
    assert len(response.results) == 5 and len(server.records) == 3
    server.fail_next("500", "500")
    with pytest.raises(ServerError, match="HTTP 500"):
        reranker_for(server, max_retries=1).rerank(QUERY, passages(5))


def test_a_fallback_takes_over_from_an_llm_that_never_ranks(server):
    server.fail_next(*["no-ranking"] * 2)
    second = ChatCompletionsServer(relevance=value).start()
    try:
        fallback = reranker_for(second)
        reranker = Reranker(
            "listwise/test-llm",
            base_url=server.base_url,
            api_key="test-key",
            max_retries=1,
            fallbacks=[fallback],
        )
        assert reranker.rerank(QUERY, passages(4)).backend == "listwise"
        assert len(second.records) == 1
    finally:
        second.stop()


# -- concurrency ---------------------------------------------------------------------------------


def test_concurrent_calls_run_side_by_side_each_with_its_own_windows():
    with ChatCompletionsServer(relevance=value, latency=0.05) as server:
        reranker = reranker_for(server)
        lists = [passages(50, seed=seed) for seed in range(6)]

        async def together():
            return await asyncio.gather(*(reranker.arerank(QUERY, docs) for docs in lists))

        responses = asyncio.run(together())
        assert server.max_in_flight > 1
        assert len(server.records) == 6 * 4  # four windows each, none shared or skipped
        for documents, response in zip(lists, responses, strict=True):
            true_order = sorted(documents, key=value, reverse=True)
            assert [r.document for r in response.results[:10]] == true_order[:10]
        assert sum(r.usage.tokens for r in responses) == server.prompt_tokens + server.completion_tokens


def test_the_key_never_shows(server):
    reranker = Reranker("listwise/test-llm", base_url=server.base_url, api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(reranker)
    with pytest.raises(AuthenticationError) as caught:
        reranker.rerank(QUERY, passages(3))
    assert "sk-secret-123" not in str(caught.value)
