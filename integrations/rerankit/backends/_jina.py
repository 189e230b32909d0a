"""Jina AI's rerank API: ``POST {base_url}/v1/rerank`` (``jina/jina-reranker-v2-base-multilingual``, ...)."""

from __future__ import annotations

from typing import Any

from rerankit._types import Usage
from rerankit.backends._remote import RemoteBackend
from rerankit.backends._responses import whole_number_at


class JinaBackend(RemoteBackend):
    """Scores with Jina's ``/v1/rerank``; the key comes from ``api_key`` or ``JINA_API_KEY``.

    Sends ``return_documents: false`` (Jina echoes every document by default); up to 1,000
    documents per request; usage reports ``usage.total_tokens``. Documents longer than the 8k-token
    context (shared with the query) are cut client-side.

    Its options are those of every remote backend (``base_url``, ``timeout``, ``max_retries``, ...;
    see :class:`~rerankit.backends.RemoteBackend`); Jina has none of its own.

    Args:
        model: A Jina reranker (``jina-reranker-v2-base-multilingual``, ...).

    Raises:
        ConfigurationError: An option breaks its rule, or no key is given or set.

    Here against the loopback server that speaks Jina's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("jina") as server:
    ...     reranker = Reranker("jina/jina-reranker-v2-base-multilingual", base_url=server.base_url, api_key="test-key")
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    >>> response.results[0].index, response.usage.tokens is not None
    (1, True)
    """

    name = "jina"
    default_base_url = "https://api.jina.ai"
    api_key_env = ("JINA_API_KEY",)
    max_documents_per_request = 1000
    # The 8k-token context of jina-reranker-v2 (https://jina.ai/reranker/; the smallest of the
    # current models), shared with the query. Whether the API truncates or rejects a longer
    # pair is not documented, so rerankit cuts documents to it client-side.
    document_token_limit = 8192

    def request_path(self) -> str:
        return "/v1/rerank"

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        return {"model": self.model, "query": query, "documents": texts, "return_documents": False}

    def read_usage(self, payload: Any) -> Usage:
        return Usage(tokens=whole_number_at(payload, "usage", "total_tokens"))


__all__ = ["JinaBackend"]
