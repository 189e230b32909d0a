"""Jina AI's rerank API: ``POST {base_url}/v1/rerank`` (``jina/jina-reranker-v2-base-multilingual``, ...)."""

from __future__ import annotations

from typing import Any

from rerankit._types import Usage
from rerankit.backends._remote import (
    RemoteBackend,
)
from rerankit.backends._responses import whole_number_at


class JinaBackend(RemoteBackend):
    """Scores with Jina's ``/v1/rerank``; the key comes from ``api_key`` or ``JINA_API_KEY``.

    Sends ``return_documents: false`` (Jina echoes every document by default); up to 1,000
    documents per request; usage reports ``usage.total_tokens``.

    >>> from rerankit import Reranker
    >>> reranker = Reranker("jina/jina-reranker-v2-base-multilingual", api_key="...")  # doctest: +SKIP
    """

    name = "jina"
    default_base_url = "https://api.jina.ai"
    api_key_env = ("JINA_API_KEY",)
    documents_limit = 1000
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
