"""Shared helpers of the remote backend tests."""

from __future__ import annotations

from typing import Any

from rerankit import Reranker
from rerankit.testing.servers import RerankServer

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
