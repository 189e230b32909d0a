"""``Reranker(..., cache=...)``: scores kept across calls, in memory or in a real Redis.

The Redis tests start their own ``redis-server`` (Debian package ``redis-server``, which
``.ci/run`` installs) on a free port in a temporary directory.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rerankit import ConfigurationError, MemoryScoreCache, RedisScoreCache, Reranker, Scores, Usage
from rerankit._score_cache import REDIS_KEY_PREFIX, score_key
from rerankit.testing.servers import RerankServer, expected_score
from tests.loopback import PROVIDERS, SPECS


class CountingBackend:
    """Scores a text by its length and records every text it is sent."""

    name = "counting"
    max_documents_per_request = 3
    max_concurrency = 2

    def __init__(self, model: str = "m", offset: float = 0.0) -> None:
        self.model = model
        self.offset = offset
        self.sent: list[str] = []

    def cache_key(self) -> dict:
        return {"backend": self.name, "model": self.model, "offset": self.offset}

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        self.sent.extend(texts)
        return Scores(values=[len(t) / 100 + len(query) / 1000 + self.offset for t in texts])

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        return self.score(query, texts)

    def close(self) -> None: ...
    async def aclose(self) -> None: ...


DOCUMENTS = ["alpha", "beta gamma", "delta epsilon zeta", "eta", "theta iota"]


def ranking(response) -> list[tuple[int, float]]:
    return [(r.index, r.relevance_score) for r in response.results]


def test_cached_pairs_are_not_sent_and_are_counted():
    backend = CountingBackend()
    reranker = Reranker(backend, cache=True)
    first = reranker.rerank("q", [*DOCUMENTS, "alpha"])
    assert backend.sent == DOCUMENTS
    assert first.usage == Usage(documents=6, pairs_scored=5, requests=2, cache_hits=0, cache_misses=5)

    backend.sent.clear()
    again = reranker.rerank("q", [*DOCUMENTS, "alpha"])
    assert backend.sent == []
    assert ranking(again) == ranking(first)
    assert again.usage == Usage(documents=6, pairs_scored=0, requests=0, cache_hits=5, cache_misses=0)

    mixed = reranker.rerank("q", ["beta gamma", "new one", "eta"], top_n=2)
    assert backend.sent == ["new one"]
    assert mixed.usage.cache_hits == 2 and mixed.usage.cache_misses == 1
    assert [r.index for r in mixed.results] == [0, 1]  # by length: "beta gamma", then "new one"

    backend.sent.clear()
    reranker.rerank("another query", ["alpha"])
    assert backend.sent == ["alpha"]  # the query is part of the key


async def test_arerank_uses_the_same_cache():
    backend = CountingBackend()
    reranker = Reranker(backend, cache=100)
    first = await reranker.arerank("q", DOCUMENTS)
    backend.sent.clear()
    second = reranker.rerank("q", DOCUMENTS)
    third = await reranker.arerank("q", DOCUMENTS)
    assert backend.sent == []
    assert ranking(first) == ranking(second) == ranking(third)
    assert third.usage.cache_hits == 5


def test_without_cache_nothing_is_kept():
    backend = CountingBackend()
    reranker = Reranker(backend)
    reranker.rerank("q", DOCUMENTS)
    reranker.rerank("q", DOCUMENTS)
    assert backend.sent == DOCUMENTS * 2
    assert reranker.rerank("q", DOCUMENTS).usage.cache_hits == 0


def test_lru_keeps_the_most_recently_used():
    cache = MemoryScoreCache(max_entries=2)
    backend = CountingBackend()
    reranker = Reranker(backend, cache=cache)
    reranker.rerank("q", ["a"])
    reranker.rerank("q", ["b"])
    reranker.rerank("q", ["a"])  # a is now the most recent
    reranker.rerank("q", ["c"])  # evicts b
    backend.sent.clear()
    assert reranker.rerank("q", ["a", "b", "c"]).usage.cache_hits == 2
    assert backend.sent == ["b"]
    assert len(cache) == 2


def test_one_cache_shared_by_differently_configured_backends_never_mixes_their_scores():
    cache = MemoryScoreCache()
    plain, shifted = CountingBackend(), CountingBackend(offset=1.0)
    first = Reranker(plain, cache=cache).rerank("q", DOCUMENTS)
    second = Reranker(shifted, cache=cache).rerank("q", DOCUMENTS)
    assert shifted.sent == DOCUMENTS and second.usage.cache_hits == 0
    assert [s + 1.0 for _, s in ranking(first)] == pytest.approx([s for _, s in ranking(second)])


def test_the_key_covers_every_setting_that_changes_a_local_score(tiny_models: dict[str, Path]):
    bert = tiny_models["bert"]
    document = " ".join(f"word{i}" for i in range(60))
    cache = MemoryScoreCache()

    def call(model: Path = bert, **options):
        return Reranker(f"local/{model}", device="cpu", cache=cache, **options).rerank("query", [document])

    short = call(max_length=16)
    long = call(max_length=64)
    chunked = call(max_length=16, long_documents="chunk")
    chunked_overlap = call(max_length=16, long_documents="chunk", chunk_overlap=0)
    other_model = call(tiny_models["bert2"], max_length=16)
    for response in (short, long, chunked, chunked_overlap, other_model):
        assert response.usage.cache_misses == 1
    scores = {r.results[0].relevance_score for r in (short, long, chunked, other_model)}
    assert len(scores) == 4  # each configuration scores differently: a shared key would be wrong

    repeat = call(max_length=16, long_documents="chunk")
    assert repeat.usage.cache_hits == 1
    assert repeat.results[0].relevance_score == chunked.results[0].relevance_score
    assert repeat.results[0].chunk == chunked.results[0].chunk is not None  # the window is kept too

    qwen = tiny_models["qwen3"]
    plain = call(qwen, max_length=256)
    instructed = call(qwen, max_length=256, instruction="Find log lines about failures")
    assert plain.usage.cache_misses == instructed.usage.cache_misses == 1
    assert plain.results[0].relevance_score != instructed.results[0].relevance_score


def test_remote_keys_cover_address_model_and_body_settings():
    def key(spec: str, **options) -> str:
        reranker = Reranker(spec, api_key="k", **options)
        return score_key(reranker.backend.cache_key(), ["truncate"], "q", "d")

    base = key("cohere/rerank-v3.5")
    assert base == key("cohere/rerank-v3.5")
    assert base != key("cohere/rerank-v3.5", max_tokens_per_doc=512)
    assert base != key("cohere/rerank-v4.0-pro")
    assert base != key("cohere/rerank-v3.5", base_url="http://127.0.0.1:1")
    assert key("deepinfra/Qwen/Qwen3-Reranker-4B") != key(
        "deepinfra/Qwen/Qwen3-Reranker-4B", instruction="Rank legal clauses"
    )
    assert "secret-key-123" not in str(
        Reranker("cohere/rerank-v3.5", api_key="secret-key-123").backend.cache_key()
    )


def test_the_key_is_a_delimited_tuple():
    assert score_key("f", ["truncate"], "ab", "c") != score_key("f", ["truncate"], "a", "bc")
    assert score_key("f", ["truncate"], "q", "d") != score_key("f", ["chunk", 32, None], "q", "d")


def test_a_remote_backend_is_called_only_for_misses():
    with RerankServer("cohere") as server:
        reranker = Reranker("cohere/rerank-v3.5", base_url=server.base_url, api_key="test-key", cache=True)
        reranker.rerank("what is bm25", ["bm25 ranks", "a fruit"])
        response = reranker.rerank("what is bm25", ["a fruit", "bm25 ranks", "a vegetable"])
        assert [r.json["documents"] for r in server.requests] == [["bm25 ranks", "a fruit"], ["a vegetable"]]
        assert {r.document: r.relevance_score for r in response.results} == {
            t: pytest.approx(expected_score("what is bm25", t))
            for t in ("a fruit", "bm25 ranks", "a vegetable")
        }
        assert response.usage.search_units == 1 and response.usage.cache_hits == 2


def test_bad_cache_values_are_refused():
    for bad in ("memcached://host", 0, -5, 2.5, ["redis://x"]):
        with pytest.raises(ConfigurationError, match=r"cache|entry"):
            Reranker(CountingBackend(), cache=bad)

    class NoKey(CountingBackend):
        cache_key = None

    with pytest.raises(ConfigurationError, match=r"cache_key\(\)"):
        Reranker(NoKey(), cache=True).rerank("q", ["d"])


def test_usage_adds_cache_counts():
    total = Usage(cache_hits=2, cache_misses=1) + Usage(cache_hits=3, cache_misses=4, tokens=5)
    assert (total.cache_hits, total.cache_misses, total.tokens) == (5, 5, 5)


# -- Redis -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server on a free port of 127.0.0.1, its files in a temporary directory."""
    pytest.importorskip("redis", reason="redis-py is not installed (pip install 'rerankit[cache]')")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed here (.ci/run installs it: apt-get install redis-server)")
    import redis

    for _attempt in range(3):  # another process may take the port between probe and bind
        port = free_port()
        process = subprocess.Popen(
            [
                *(binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)),
                *("--save", "", "--appendonly", "no", "--protected-mode", "yes"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        if process.poll() is None:
            break
    else:
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_replicas_share_scores_through_redis(redis_url: str):
    first_replica, second_replica = CountingBackend(), CountingBackend()
    first = Reranker(first_replica, cache=redis_url).rerank("q", DOCUMENTS)
    second = Reranker(second_replica, cache=redis_url).rerank("q", DOCUMENTS)
    assert first_replica.sent == DOCUMENTS and second_replica.sent == []
    assert ranking(first) == ranking(second)
    assert second.usage.cache_hits == 5 and second.usage.requests == 0

    import redis

    client = redis.Redis.from_url(redis_url)
    keys = client.keys(REDIS_KEY_PREFIX + "*")
    assert len(keys) == 5
    assert all(client.ttl(key) == -1 for key in keys)  # no TTL unless asked


async def test_redis_cache_with_arerank_and_ttl(redis_url: str):
    backend = CountingBackend()
    reranker = Reranker(backend, cache=RedisScoreCache(redis_url, ttl=600))
    first = await reranker.arerank("q", DOCUMENTS)
    second = await reranker.arerank("q", DOCUMENTS)
    assert backend.sent == DOCUMENTS and ranking(first) == ranking(second)

    import redis

    client = redis.Redis.from_url(redis_url)
    assert all(0 < client.ttl(key) <= 600 for key in client.keys(REDIS_KEY_PREFIX + "*"))


def test_chunk_windows_round_trip_through_redis(redis_url: str, bert_model: Path):
    document = " ".join(f"word{i}" for i in range(80))
    options = {"device": "cpu", "max_length": 24, "long_documents": "chunk", "cache": redis_url}
    first = Reranker(f"local/{bert_model}", **options).rerank("query", [document])
    second = Reranker(f"local/{bert_model}", **options).rerank("query", [document])
    assert second.usage.cache_hits == 1 and second.usage.pairs_scored == 0
    assert second.results == first.results


def test_a_redis_outage_never_fails_a_rerank(redis_url: str, caplog: pytest.LogCaptureFixture):
    backend = CountingBackend()
    reranker = Reranker(backend, cache=redis_url)
    reranker.rerank("q", DOCUMENTS)
    import redis

    with contextlib.suppress(redis.ConnectionError):  # the server closes the connection as it goes
        reranker.cache._client.shutdown(nosave=True)
    backend.sent.clear()
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        response = reranker.rerank("q", DOCUMENTS)
    assert backend.sent == DOCUMENTS
    assert response.usage.cache_misses == 5 and len(response.results) == 5
    assert "score cache at 127.0.0.1" in caplog.text


def test_redis_password_never_shows():
    cache = RedisScoreCache("redis://:hunter2-secret@127.0.0.1:1/3")
    assert "hunter2" not in repr(cache) and "127.0.0.1:1/3" in repr(cache)


def test_a_backend_split_request_applies_to_the_misses_only():
    class Splitting(CountingBackend):
        def __init__(self) -> None:
            super().__init__()
            self.requests: list[list[str]] = []

        def split_request(self, query: str, texts: list[str]) -> list[list[str]]:
            return [[text] for text in texts]  # one text per request, as a byte limit might force

        def score(self, query: str, texts: Sequence[str]) -> Scores:
            self.requests.append(list(texts))
            return super().score(query, texts)

    backend = Splitting()
    reranker = Reranker(backend, cache=True)
    reranker.rerank("q", ["a", "bb"])
    response = reranker.rerank("q", ["a", "bb", "ccc"])
    assert backend.requests == [["a"], ["bb"], ["ccc"]]
    assert response.usage.requests == 1 and [r.document for r in response.results] == ["ccc", "bb", "a"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_remote_backend_keys_on_its_settings_never_on_the_content(provider: str) -> None:
    """The fields a backend names as content are exactly those that change with the query and
    documents (Mixedbread's ``input``, TEI's ``texts``, DeepInfra's ``queries``), so the key holds
    the settings and nothing of what one call sent."""
    backend = Reranker(SPECS[provider], api_key="test-key", base_url="http://127.0.0.1:9").backend
    one = backend.request_body("first query", ["document a"])
    other = backend.request_body("second query", ["document b", "document c"])
    changed = {field for field in one.keys() | other.keys() if one.get(field) != other.get(field)}
    assert changed == set(backend.content_fields), provider
    settings = backend.cache_key()["settings"]
    assert not set(settings) & set(backend.content_fields)
    assert settings == {k: v for k, v in one.items() if k not in backend.content_fields}


def test_listwise_scores_are_never_cached() -> None:
    # 1/rank among one call's documents: a cached rank would not hold among another call's
    with pytest.raises(ConfigurationError, match="cache= cannot be used with listwise/"):
        Reranker("listwise/gpt-4o-mini", base_url="http://127.0.0.1:9", api_key="test-key", cache=True)
