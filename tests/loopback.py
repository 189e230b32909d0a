"""Helpers for the tests that talk HTTP to the loopback provider servers (``rerankit.testing.servers``):
the remote backend tests and the loopback half of the reliability suite."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from rerankit import Reranker
from rerankit.testing.servers import RerankServer, expected_score

#: A spec string per provider, as users write them.
SPECS = {
    "cohere": "cohere/rerank-v3.5",
    "jina": "jina/jina-reranker-v2-base-multilingual",
    "deepinfra": "deepinfra/Qwen/Qwen3-Reranker-4B",
    "gateway": "gateway/cohere/rerank-v3.5",
    "tei": "tei/BAAI/bge-reranker-base",
    "voyage": "voyage/rerank-2.5",
    "zeroentropy": "zeroentropy/zerank-2",
    "mixedbread": "mixedbread/mixedbread-ai/mxbai-rerank-large-v2",
    "pinecone": "pinecone/bge-reranker-v2-m3",
}
PROVIDERS = tuple(SPECS)
#: The environment variables that can hold each provider's key or address.
ENV_VARS = (
    "COHERE_API_KEY",
    "CO_API_KEY",
    "JINA_API_KEY",
    "DEEPINFRA_API_KEY",
    "DEEPINFRA_TOKEN",
    "RERANKIT_GATEWAY_API_KEY",
    "RERANKIT_GATEWAY_URL",
    "RERANKIT_TEI_URL",
    "RERANKIT_TEI_API_KEY",
    "VOYAGE_API_KEY",
    "ZEROENTROPY_API_KEY",
    "MXBAI_API_KEY",
    "MIXEDBREAD_BASE_URL",
    "PINECONE_API_KEY",
)
#: Providers whose 401 has an empty body (TEI's --api-key middleware), so no message to quote.
EMPTY_401 = frozenset({"tei"})


def auth_headers(provider: str, key: str = "test-key") -> dict[str, str]:
    """The headers that carry ``key`` to ``provider``, as its documentation says."""
    if provider == "pinecone":
        return {"api-key": key, "x-pinecone-api-version": "2025-10"}
    return {"authorization": f"Bearer {key}"}


def sent_key(provider: str, headers: dict[str, str]) -> str:
    """The key a recorded request carried (lower-case header names)."""
    if provider == "pinecone":
        return headers["api-key"]
    return headers["authorization"].removeprefix("Bearer ")


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
