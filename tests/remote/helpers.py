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
