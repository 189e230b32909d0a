"""``Reranker.rerank_batch`` / ``arerank_batch``: the i-th response is ``rerank(queries[i], documents[i])``.

On in-process backends that record what they were asked (and can fail on a chosen text), on the tiny
local cross-encoder (shared forward passes through ``score_requests``) and over real HTTP against a
loopback gateway.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections.abc import Sequence

import pytest

from rerankit import (
    InvalidInputError,
    InvalidRequestError,
    MalformedResponseError,
    Reranker,
    RerankResponse,
    Scores,
    ServerError,
    Usage,
)
from rerankit.backends._base import RequestBatchingBackend, has_score_requests
from rerankit.testing.servers import RerankServer, expected_score


def hashed_score(query: str, text: str) -> float:
    digest = hashlib.blake2b(f"{query}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class ScriptedBackend:
    """Scores ``hashed_score``; a text in ``fail_on`` makes its call raise that error. Records calls."""

    model = "hash-v1"
    reports_tokens = True

    def __init__(
        self,
        name: str = "scripted",
        *,
        fail_on: dict[str, Exception] | None = None,
        limit: int | None = None,
        concurrency: int = 4,
        delay: float = 0.0,
    ) -> None:
        self.name = name
        self.fail_on = fail_on or {}
        self.max_documents_per_request = limit
        self.max_concurrency = concurrency
        self.delay = delay
        self.calls: list[tuple[str, list[str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def _scores(self, query: str, texts: Sequence[str]) -> Scores:
        with self._lock:
            self.calls.append((query, list(texts)))
        for text in texts:
            if text in self.fail_on:
                raise self.fail_on[text]
        usage = Usage(tokens=len(texts)) if self.reports_tokens else Usage()
        return Scores(values=[hashed_score(query, t) for t in texts], usage=usage)

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return self._scores(query, texts)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return self._scores(query, texts)
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


class SharedPassBackend(ScriptedBackend):
    """A ScriptedBackend with ``score_requests``: a whole batch in one call, as a local model does."""

    max_concurrency = 1
    reports_tokens = False  # as a local model: nothing billed, so score_requests returns bare floats

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shared_calls: list[list[tuple[str, list[str]]]] = []

    def score_requests(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        self.shared_calls.append([(q, list(t)) for q, t in requests])
        return [self._scores(query, texts).values for query, texts in requests]


def random_batch(seed: int = 0, items: int = 12) -> tuple[list[str], list[list[str]]]:
    """Queries with documents of varied counts, duplicates within an item and shared across items."""
    rng = random.Random(seed)
    pool = [f"document {n} about {rng.choice(['bm25', 'rerankers', 'paris', 'rivers'])}" for n in range(40)]
    queries = [f"query {i} {rng.choice(['bm25', 'paris'])}" for i in range(items)]
    documents = [[rng.choice(pool) for _ in range(rng.randint(1, 15))] for _ in range(items)]
    return queries, documents


def singles(reranker: Reranker, queries, documents, **options) -> list[RerankResponse]:
    return [reranker.rerank(q, d, **options) for q, d in zip(queries, documents, strict=True)]


@pytest.mark.parametrize("backend_type", [ScriptedBackend, SharedPassBackend])
@pytest.mark.parametrize(
    "options", [{}, {"top_n": 3}, {"score_threshold": 0.5}, {"top_n": 2, "score_threshold": 0.3}]
)
def test_each_response_equals_its_own_rerank(backend_type, options):
    queries, documents = random_batch()
    reranker = Reranker(backend_type(limit=4))
    batched = reranker.rerank_batch(queries, documents, **options)
    assert batched == singles(Reranker(backend_type(limit=4)), queries, documents, **options)
    # and the scores are the right ones for each document, not merely equal between the two paths
    for query, texts, response in zip(queries, documents, batched, strict=True):
        for result in response.results:
            assert result.document == texts[result.index]
            assert result.relevance_score == hashed_score(query, texts[result.index])


@pytest.mark.parametrize("backend_type", [ScriptedBackend, SharedPassBackend])
async def test_arerank_batch_equals_rerank(backend_type):
    queries, documents = random_batch(seed=1)
    batched = await Reranker(backend_type(limit=5)).arerank_batch(queries, documents, top_n=4)
    assert batched == singles(Reranker(backend_type(limit=5)), queries, documents, top_n=4)


def test_ties_keep_input_order_within_each_item():
    class Constant(ScriptedBackend):
        def _scores(self, query, texts):
            return Scores(values=[0.5] * len(texts))

    responses = Reranker(Constant()).rerank_batch(["q1", "q2"], [["c", "a", "b"], ["z", "y"]])
    assert [[r.index for r in response.results] for response in responses] == [[0, 1, 2], [0, 1]]


def test_a_shared_pass_backend_gets_the_whole_batch_in_one_call_deduped_per_query():
    backend = SharedPassBackend()
    queries = ["q0", "q1", "q2"]
    documents = [["a", "b", "a"], ["a", "c"], ["d"]]
    Reranker(backend).rerank_batch(queries, documents)
    assert backend.shared_calls == [[("q0", ["a", "b"]), ("q1", ["a", "c"]), ("q2", ["d"])]]
    assert isinstance(backend, RequestBatchingBackend) and has_score_requests(backend)
    assert not has_score_requests(ScriptedBackend())


def test_remote_calls_run_concurrently_within_the_backends_limit():
    backend = ScriptedBackend(concurrency=3, delay=0.05, limit=2)
    queries, documents = random_batch(seed=2, items=8)
    Reranker(backend).rerank_batch(queries, documents)
    assert backend.max_in_flight == 3
    expected_calls = sum(-(-len(set(d)) // 2) for d in documents)
    assert len(backend.calls) == expected_calls


async def test_async_remote_calls_respect_the_limit_too():
    backend = ScriptedBackend(concurrency=2, delay=0.02)
    queries, documents = random_batch(seed=3, items=10)
    await Reranker(backend).arerank_batch(queries, documents)
    assert backend.max_in_flight == 2 and len(backend.calls) == 10


def test_an_empty_batch_is_an_empty_list():
    assert Reranker(ScriptedBackend()).rerank_batch([], []) == []


@pytest.mark.parametrize(
    ("queries", "documents", "message"),
    [
        (
            ["q0", "q1", "q2", "q3"],
            [["a"], ["b"], ["c"], ["d", "e", " ", "f"]],
            "documents[3][2]: document text is required for rerank at index 2",
        ),
        (
            ["q0", "q1"],
            [["a"], ["b", "c", 7]],
            "documents[1][2]: document text is required for rerank at index 2: got int, expected str",
        ),
        (
            ["q0", " \u200b"],
            [["a"], ["b"]],
            "queries[1]: query is required for rerank (only invisible characters such as U+200B)",
        ),
        (["q0", None], [["a"], ["b"]], "queries[1]: query is required for rerank"),
        (["q0", "q1"], [["a"], []], "documents[1]: documents are required for rerank"),
        (["q0", "q1"], [["a"], "b"], "documents[1]: documents must be a sequence of strings, got str"),
        (
            ["q0", "q1"],
            [["a"]],
            "queries and documents must have the same length: got 2 queries and 1 document lists",
        ),
        ("q0", [["a"]], "queries must be a list of query strings, got str"),
        (["q0"], {"a": 1}, "documents must be a list of document lists, one per query, got dict"),
    ],
)
def test_bad_input_is_named_by_position_and_nothing_is_scored(queries, documents, message):
    backend = ScriptedBackend()
    with pytest.raises(InvalidInputError) as caught:
        Reranker(backend).rerank_batch(queries, documents)
    assert str(caught.value) == message
    assert backend.calls == []


def test_shared_options_are_checked_once():
    with pytest.raises(InvalidInputError, match="top_n must be at least 1"):
        Reranker(ScriptedBackend()).rerank_batch(["q"], [["a"]], top_n=0)


def test_return_exceptions_puts_a_bad_items_error_in_its_slot():
    queries, documents = ["q0", "q1", "q2"], [["a", "b"], ["c", ""], ["d"]]
    reranker = Reranker(SharedPassBackend())
    responses = reranker.rerank_batch(queries, documents, return_exceptions=True)
    assert isinstance(responses[1], InvalidInputError)
    assert str(responses[1]).startswith("documents[1][1]: ")
    assert responses[0] == reranker.rerank("q0", ["a", "b"])
    assert responses[2] == reranker.rerank("q2", ["d"])


@pytest.mark.parametrize("backend_type", [ScriptedBackend, SharedPassBackend])
def test_a_failing_item_fails_alone(backend_type):
    boom = InvalidRequestError("the provider rejected it", provider="scripted", status_code=400)
    backend = backend_type(fail_on={"poison": boom})
    queries, documents = ["q0", "q1", "q2"], [["a"], ["b", "poison"], ["c", "d"]]
    responses = Reranker(backend).rerank_batch(queries, documents, return_exceptions=True)
    assert responses[1] is boom
    clean = Reranker(backend_type())
    assert responses[0] == clean.rerank("q0", ["a"]) and responses[2] == clean.rerank("q2", ["c", "d"])
    with pytest.raises(InvalidRequestError) as caught:
        Reranker(backend_type(fail_on={"poison": boom})).rerank_batch(queries, documents)
    assert str(caught.value).startswith("item 1: the provider rejected it (provider=scripted, status=400)")
    assert "in rerank_batch item 1" in "".join(getattr(caught.value, "__notes__", ["in rerank_batch item 1"]))


async def test_a_failing_item_fails_alone_async():
    backend = SharedPassBackend(fail_on={"poison": InvalidRequestError("no", provider="scripted")})
    responses = await Reranker(backend).arerank_batch(
        ["q0", "q1"], [["poison"], ["b"]], return_exceptions=True
    )
    assert isinstance(responses[0], InvalidRequestError)
    assert responses[1] == Reranker(SharedPassBackend()).rerank("q1", ["b"])


def test_a_shared_pass_returning_the_wrong_count_is_malformed_for_every_item():
    class Short(SharedPassBackend):
        def score_requests(self, requests):
            return super().score_requests(requests)[:-1]

    responses = Reranker(Short()).rerank_batch(["q0", "q1"], [["a"], ["b"]], return_exceptions=True)
    assert all(isinstance(r, MalformedResponseError) for r in responses)


@pytest.mark.parametrize("backend_type", [ScriptedBackend, SharedPassBackend])
def test_only_the_failed_item_goes_to_the_fallback(backend_type, caplog):
    down = ServerError("upstream 503", provider="primary", status_code=503)
    primary = backend_type("primary", fail_on={"flaky": down})
    fallback = ScriptedBackend("fallback")
    reranker = Reranker(primary, fallbacks=[fallback])
    responses = reranker.rerank_batch(["q0", "q1", "q2"], [["a"], ["flaky", "b"], ["c"]])
    assert [r.backend for r in responses] == ["primary", "fallback", "primary"]
    assert fallback.calls == [("q1", ["flaky", "b"])]  # scored again whole, by the next backend
    assert responses[1] == Reranker(ScriptedBackend("fallback")).rerank("q1", ["flaky", "b"])
    assert "falling back to fallback/hash-v1" in caplog.text


def test_when_every_backend_fails_the_last_error_chains_to_the_one_before():
    first = ServerError("first down", provider="primary")
    second = ServerError("second down", provider="fallback")
    reranker = Reranker(
        ScriptedBackend("primary", fail_on={"x": first}),
        fallbacks=[ScriptedBackend("fallback", fail_on={"x": second})],
    )
    responses = reranker.rerank_batch(["q0", "q1"], [["x"], ["y"]], return_exceptions=True)
    assert responses[0] is second and second.__context__ is first
    assert responses[1].backend == "primary"


def test_errors_the_caller_must_fix_do_not_fall_back():
    rejected = InvalidRequestError("bad request", provider="primary", status_code=400)
    fallback = ScriptedBackend("fallback")
    reranker = Reranker(ScriptedBackend("primary", fail_on={"x": rejected}), fallbacks=[fallback])
    responses = reranker.rerank_batch(["q"], [["x"]], return_exceptions=True)
    assert responses == [rejected] and fallback.calls == []


# -- the local cross-encoder: shared forward passes --------------------------------------------


def test_local_batch_scores_match_rerank_and_share_forward_passes(bert_model, monkeypatch):
    reranker = Reranker(f"local/{bert_model}", device="cpu")
    backend = reranker.backend
    rng = random.Random(4)
    words = [
        "bm25",
        "ranking",
        "cross",
        "encoder",
        "attention",
        "paris",
        "river",
        "query",
        "passage",
        "model",
    ]
    queries = [" ".join(rng.choices(words, k=rng.randint(1, 6))) for _ in range(20)]
    documents = [
        [" ".join(rng.choices(words, k=rng.randint(1, 60))) for _ in range(rng.randint(1, 12))]
        for _ in range(20)
    ]
    alone = singles(reranker, queries, documents, top_n=5)
    passes: list[int] = []
    forward = backend._forward
    monkeypatch.setattr(
        backend, "_forward", lambda pairs, *a: passes.append(len(pairs)) or forward(pairs, *a)
    )
    batched = reranker.rerank_batch(queries, documents, top_n=5)
    pairs = sum(len(set(d)) for d in documents)
    assert sum(passes) == pairs and len(passes) < len(queries), "the items' pairs should share passes"
    for together, single in zip(batched, alone, strict=True):
        assert [r.index for r in together.results] == [r.index for r in single.results]
        assert together.usage == single.usage
        for a, b in zip(together.results, single.results, strict=True):
            assert a.relevance_score == pytest.approx(b.relevance_score, abs=1e-5)


async def test_local_arerank_batch_matches_rerank(bert_model):
    reranker = Reranker(f"local/{bert_model}", device="cpu")
    queries = ["what is bm25", "capital of france", "how do rerankers work"]
    documents = [["bm25 is a ranking function", "a fruit"], ["paris", "rome", "paris"], ["cross attention"]]
    batched = await reranker.arerank_batch(queries, documents)
    for together, single in zip(batched, singles(reranker, queries, documents), strict=True):
        assert [r.index for r in together.results] == [r.index for r in single.results]
        for a, b in zip(together.results, single.results, strict=True):
            assert a.relevance_score == pytest.approx(b.relevance_score, abs=1e-5)


# -- over real HTTP: a loopback gateway -------------------------------------------------------


def test_gateway_batch_sends_concurrent_requests_and_attaches_each_score_to_its_document():
    with RerankServer("gateway", latency=0.05) as server:
        reranker = Reranker(
            "gateway/BAAI/bge-reranker-v2-m3", base_url=server.base_url, api_key="test-key", max_concurrency=4
        )
        queries = [f"what is bm25 number {i}" for i in range(12)]
        documents = [[f"bm25 is ranking {i}", "a fruit", f"number {i} of bm25"] for i in range(12)]
        responses = reranker.rerank_batch(queries, documents, top_n=2)
        assert len(server.requests) == 12 and 1 < server.max_in_flight <= 4
        for query, texts, response in zip(queries, documents, responses, strict=True):
            expected = sorted(range(3), key=lambda i: -expected_score(query, texts[i]))[:2]
            assert [r.index for r in response.results] == expected
            for result in response.results:
                assert result.relevance_score == pytest.approx(expected_score(query, texts[result.index]))
        reranker.close()


# -- the evaluation API reranks through rerank_batch --------------------------------------------


def test_evaluate_reranks_its_queries_in_batches_with_the_rankings_rerank_gives(monkeypatch):
    from rerankit import evaluation
    from rerankit.evaluation._evaluate import EVAL_BATCH_QUERIES

    data = evaluation.load_beir(evaluation.DEMO_DATA)
    reranker = Reranker(SharedPassBackend())
    batch_sizes: list[int] = []
    rerank_batch = reranker.rerank_batch
    monkeypatch.setattr(
        reranker, "rerank_batch", lambda q, d, **kw: batch_sizes.append(len(q)) or rerank_batch(q, d, **kw)
    )
    result = evaluation.evaluate([reranker], data, k=5, max_queries=20, warmup=False)
    assert sum(batch_sizes) == 20 and max(batch_sizes) == EVAL_BATCH_QUERIES
    first_stage = result.first_stage.rankings
    for query_id, ranked in result.rerankers[0].rankings.items():
        texts = [data.corpus[doc.id].content for doc in first_stage[query_id]]
        alone = reranker.rerank(data.queries[query_id], texts)
        assert [doc.id for doc in ranked] == [first_stage[query_id][r.index].id for r in alone.results]
