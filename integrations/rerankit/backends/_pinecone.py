"""Pinecone's inference rerank API: ``POST {base_url}/rerank`` (``pinecone/bge-reranker-v2-m3``, ...).

Wire format from the official client (pinecone-io/pinecone-python-client: ``client/inference.py``
``rerank``, ``models/inference/rerank.py``, ``_internal/constants.py``, ``_internal/http_client.py``)
and the model limits from https://docs.pinecone.io/guides/search/rerank-results#reranking-models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rerankit._errors import ConfigurationError
from rerankit._types import Usage
from rerankit.backends._remote import RemoteBackend, optional_positive_int
from rerankit.backends._responses import number_at

#: _internal/constants.py: ``INFERENCE_API_VERSION: str = "2025-10"``
DEFAULT_API_VERSION = "2025-10"
#: "Max documents" per model (docs.pinecone.io, Reranking models).
MODEL_DOCUMENT_LIMITS: dict[str, int] = {
    "bge-reranker-v2-m3": 100,
    "pinecone-rerank-v0": 100,
    "cohere-rerank-3.5": 200,
    "cohere-rerank-4-fast": 250,
}


class PineconeBackend(RemoteBackend):
    """Scores with Pinecone's ``/rerank``; the key comes from ``api_key`` or ``PINECONE_API_KEY``.

    Sends the key as ``Api-Key`` and ``X-Pinecone-Api-Version: 2025-10`` (``api_version``),
    documents as ``{"text"}`` objects with ``return_documents: false``; splits to each model's
    documented document limit (100 for ``bge-reranker-v2-m3`` and ``pinecone-rerank-v0``, 200 for
    ``cohere-rerank-3.5``, 250 for ``cohere-rerank-4-fast``). Usage reports ``usage.rerank_units``
    as search units (the eval table calls them rerank units).

    Args:
        model: a Pinecone-hosted reranking model; another needs ``max_documents_per_request``.
        api_version: the ``X-Pinecone-Api-Version`` header. Defaults to ``"2025-10"``.
        parameters: model-specific ``parameters`` sent as is, e.g. ``{"truncate": "END"}``.
        max_documents_per_request: the document limit, for a model not listed above.
        **options: the options of every remote backend (``timeout``, ``max_retries``, ...).

    >>> from rerankit import Reranker
    >>> reranker = Reranker("pinecone/bge-reranker-v2-m3", api_key="...", parameters={"truncate": "END"})  # doctest: +SKIP
    """

    name = "pinecone"
    default_base_url = "https://api.pinecone.io"  # _internal/constants.py DEFAULT_BASE_URL
    api_key_env = ("PINECONE_API_KEY",)
    documents_limit = 100
    auth_header = "Api-Key"  # _internal/http_client.py: headers["Api-Key"] = config.api_key
    auth_scheme = ""

    def __init__(
        self,
        model: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        parameters: Mapping[str, Any] | None = None,
        max_documents_per_request: int | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(api_version, str) or not api_version.strip():
            raise ConfigurationError(
                "api_version must be a non-empty string like '2025-10'", provider=self.name
            )
        self.api_version = api_version.strip()
        super().__init__(model, **options)
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ConfigurationError(
                f"parameters must be a mapping like {{'truncate': 'END'}}, got {type(parameters).__name__}",
                provider=self.name,
            )
        self.parameters = dict(parameters) if parameters is not None else None
        limit = optional_positive_int("max_documents_per_request", max_documents_per_request, self.name)
        if limit is None:
            limit = MODEL_DOCUMENT_LIMITS.get(model)
        if limit is None:
            raise ConfigurationError(
                f"pinecone model {model!r} has no known document limit; pass max_documents_per_request=... "
                f"(known models: {', '.join(MODEL_DOCUMENT_LIMITS)})",
                provider=self.name,
            )
        self.max_documents_per_request = limit

    def request_headers(self) -> dict[str, str]:
        # _internal/constants.py: API_VERSION_HEADER = "X-Pinecone-Api-Version"
        return {"X-Pinecone-Api-Version": self.api_version}

    def request_path(self) -> str:
        return "/rerank"  # client/inference.py: self._http.post("/rerank", json=body)

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        # client/inference.py rerank: model, query, documents ({"text": ...}), rank_fields,
        # return_documents (the SDK defaults to true; false here), top_n, parameters
        body: dict[str, Any] = {
            "model": self.model,
            "query": query,
            "documents": [{"text": text} for text in texts],
            "return_documents": False,
        }
        if self.parameters is not None:
            body["parameters"] = self.parameters
        return body

    def read_usage(self, payload: Any) -> Usage:
        # models/inference/rerank.py: RerankResult.data[].index/score, usage.rerank_units
        return Usage(search_units=number_at(payload, "usage", "rerank_units"))


__all__ = ["DEFAULT_API_VERSION", "MODEL_DOCUMENT_LIMITS", "PineconeBackend"]
