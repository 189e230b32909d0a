"""Jina AI's rerank API: ``POST {base_url}/v1/rerank`` (``jina/jina-reranker-v2-base-multilingual``, ...)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from rerankit.backends.remote import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
    RemoteBackend,
)
from rerankit.backends.responses import whole_number_at
from rerankit.types import Usage


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

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | SecretStr | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        deadline: float | None = None,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
    ) -> None:
        super().__init__(
            model,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            max_connections=max_connections,
            deadline=deadline,
            max_retry_wait=max_retry_wait,
            backoff_base=backoff_base,
        )

    def request_path(self) -> str:
        return "/v1/rerank"

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        return {"model": self.model, "query": query, "documents": texts, "return_documents": False}

    def read_usage(self, payload: Any) -> Usage:
        return Usage(tokens=whole_number_at(payload, "usage", "total_tokens"))


__all__ = ["JinaBackend"]
