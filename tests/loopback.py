"""Helpers for the tests that talk HTTP to the loopback provider servers (``rerankit.testing.servers``):
the remote backend tests and the loopback half of the reliability suite."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from rerankit import Reranker
from rerankit.backends import RERANK_APIS, ProviderSpec
from rerankit.backends._pinecone import DEFAULT_API_VERSION
from rerankit.backends._registry import backend_class
from rerankit.testing.servers import RerankServer, expected_score

#: Each registered rerank API's declared facts (its backend module's ``PROVIDER``).
PROVIDER_SPECS: dict[str, ProviderSpec] = {name: backend_class(name).provider for name in RERANK_APIS}
#: A spec string per provider, as users write them.
SPECS = {name: f"{name}/{spec.example_model}" for name, spec in PROVIDER_SPECS.items()}
PROVIDERS = tuple(SPECS)
#: The environment variables that can hold each provider's key or address.
ENV_VARS = tuple(
    dict.fromkeys(
        variable for spec in PROVIDER_SPECS.values() for variable in (*spec.api_key_env, *spec.base_url_env)
    )
)
#: Providers whose 401 has an empty body (TEI's --api-key middleware), so no message to quote.
EMPTY_401 = frozenset({"tei"})
#: Headers a provider needs beside the key (Pinecone's API version, which its backend sends).
EXTRA_HEADERS = {"pinecone": {"x-pinecone-api-version": DEFAULT_API_VERSION}}


def auth_headers(provider: str, key: str = "test-key") -> dict[str, str]:
    """The headers that carry ``key`` to ``provider``, as its spec declares them."""
    return PROVIDER_SPECS[provider].auth_headers(key) | EXTRA_HEADERS.get(provider, {})


def sent_key(provider: str, headers: dict[str, str]) -> str:
    """The key a recorded request carried (lower-case header names)."""
    return PROVIDER_SPECS[provider].sent_key(headers)


#: Retries that do not slow the suite down: millisecond backoff, waits capped at 20 ms.
FAST_RETRIES: dict[str, Any] = {"backoff_base": 0.001, "max_retry_wait": 0.02}
#: Every fault a patient client gets through: rate limits, 5xx (JSON or an HTML proxy page),
#: dropped connections and stalls past the timeout.
TRANSIENT_FAULTS = (
    "429",
    "429-retry-after",
    "429-retry-after-date",
    "500",
    "502",
    "503",
    "504",
    "drop",
    "stall",
    "html",
)


def make_reranker(server: RerankServer, **options: Any) -> Reranker:
    """A reranker for ``server``'s provider with test-speed retries (override any option)."""
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": server.api_key,
        "backoff_base": 0.001,
        "timeout": 5.0,
    }
    settings.update(options)
    return Reranker(SPECS[server.provider], **settings)


def loopback_reranker(provider: str, server: RerankServer, **options: Any) -> Reranker:
    """A Reranker for ``provider`` pointed at ``server``, with fast retries unless overridden."""
    return Reranker(
        SPECS[provider], base_url=server.base_url, api_key=server.api_key, **FAST_RETRIES | options
    )


def random_call(rng: random.Random, tag: str, max_documents: int = 8) -> tuple[str, list[str]]:
    """A query and 1 to ``max_documents`` documents unique to ``tag`` (so results from another
    call cannot pass for this one's)."""
    words = ["bm25", "ranking", "fruit", "vector", "search", "rerank", "apple", "query", "index"]
    query = f"{tag} " + " ".join(rng.sample(words, 3))
    documents = [
        f"{tag} doc {i}: " + " ".join(rng.sample(words, rng.randint(1, 5)))
        for i in range(rng.randint(1, max_documents))
    ]
    return query, documents


def assert_correct(response: Any, query: str, documents: list[str]) -> None:
    """Every document exactly once, best first, each with the server's score for its own text."""
    assert sorted(r.index for r in response.results) == list(range(len(documents)))
    for result in response.results:
        assert result.document == documents[result.index]
        assert result.relevance_score == expected_score(query, documents[result.index])
    scores = [r.relevance_score for r in response.results]
    assert scores == sorted(scores, reverse=True)


def fault_counts(server: RerankServer) -> Counter:
    """How many requests got each fault."""
    return Counter(request.fault for request in server.requests if request.fault is not None)


def client_connections(port: int) -> int | None:
    """ESTABLISHED TCP connections to 127.0.0.1:``port`` seen by the OS (``None`` off Linux)."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        return None
    count = 0
    for line in table.read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            count += 1
    return count
