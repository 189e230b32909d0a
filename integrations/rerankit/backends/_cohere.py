"""Cohere's rerank API: ``POST {base_url}/v2/rerank`` (``cohere/rerank-v3.5``, ``cohere/rerank-v4.0-pro``, ...)."""

from __future__ import annotations

from typing import Any

from rerankit._types import Usage
from rerankit.backends._remote import (
    RemoteBackend,
    optional_int_between,
    optional_positive_int,
)
from rerankit.backends._responses import number_at, whole_number_at


class CohereBackend(RemoteBackend):
    """Scores with Cohere's ``/v2/rerank``; the key comes from ``api_key``, ``COHERE_API_KEY`` or ``CO_API_KEY``.

    Up to 1,000 documents per request (the core splits longer lists); usage reports the billed
    search units.

    >>> from rerankit import Reranker
    >>> reranker = Reranker("cohere/rerank-v3.5", api_key="...", max_tokens_per_doc=512)  # doctest: +SKIP
    """

    name = "cohere"
    default_base_url = "https://api.cohere.com"
    api_key_env = ("COHERE_API_KEY", "CO_API_KEY")
    documents_limit = 1000
    # https://docs.cohere.com/changelog/rerank-v3.5: "max_tokens_per_doc will determine the maximum
    # amount of tokens a document can have before truncation. The default value ... is 4096."
    document_token_limit = 4096
    limit_counts_query = False
    truncates_server_side = True

    def __init__(
        self,
        model: str,
        *,
        max_tokens_per_doc: int | None = None,
        priority: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        self.max_tokens_per_doc = optional_positive_int("max_tokens_per_doc", max_tokens_per_doc, self.name)
        self.priority = optional_int_between("priority", priority, 0, 999, self.name)

    def request_path(self) -> str:
        return "/v2/rerank"

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "query": query, "documents": texts}
        if self.max_tokens_per_doc is not None:
            body["max_tokens_per_doc"] = self.max_tokens_per_doc
        if self.priority is not None:
            body["priority"] = self.priority
        return body

    def read_usage(self, payload: Any) -> Usage:
        billed = ("meta", "billed_units")
        return Usage(
            search_units=number_at(payload, *billed, "search_units"),
            tokens=whole_number_at(payload, *billed, "input_tokens"),
        )


__all__ = ["CohereBackend"]
