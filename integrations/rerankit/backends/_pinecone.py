"""Pinecone's inference rerank API: ``POST {base_url}/rerank`` (``pinecone/bge-reranker-v2-m3``, ...).

Wire format from the official client (pinecone-io/pinecone-python-client: ``client/inference.py``
``rerank``, ``models/inference/rerank.py``, ``_internal/constants.py``, ``_internal/http_client.py``)
and the model limits from https://docs.pinecone.io/guides/search/rerank-results#reranking-models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from rerankit._errors import ConfigurationError
from rerankit._options_base import Options
from rerankit._score_kinds import ScoreScale
from rerankit.backends._provider import AnswerFields, ProviderSpec
from rerankit.backends._remote import RemoteBackend

#: _internal/constants.py: ``INFERENCE_API_VERSION: str = "2025-10"``
DEFAULT_API_VERSION = "2025-10"
#: "Max documents" per model (docs.pinecone.io, Reranking models).
MODEL_DOCUMENT_LIMITS: dict[str, int] = {
    "bge-reranker-v2-m3": 100,
    "pinecone-rerank-v0": 100,
    "cohere-rerank-3.5": 200,
    "cohere-rerank-4-fast": 250,
}

#: Pinecone's documented facts (the client: client/inference.py posts "/rerank";
#: _internal/http_client.py: headers["Api-Key"] = config.api_key; models/inference/rerank.py:
#: data[].index/score, usage.rerank_units). Each instance: its model's document limit.
PROVIDER = ProviderSpec(
    name="pinecone",
    path="/rerank",
    default_base_url="https://api.pinecone.io",  # _internal/constants.py DEFAULT_BASE_URL
    api_key_env=("PINECONE_API_KEY",),
    auth_header="Api-Key",
    auth_scheme="",
    max_documents=min(MODEL_DOCUMENT_LIMITS.values()),
    answer=AnswerFields(results="data", score="score", document="document"),
    search_units_at=(("usage", "rerank_units"),),
    loopback="rerankit.testing.servers._pinecone:PineconeFormat",
    example_model="bge-reranker-v2-m3",
)


class PineconeOptions(Options):
    """The options of :class:`PineconeBackend` beside those of every remote backend."""

    api_version: str = Field(
        default=DEFAULT_API_VERSION, description="The ``X-Pinecone-Api-Version`` header."
    )
    parameters: dict[str, Any] | None = Field(
        default=None,
        description='Model-specific ``parameters`` sent as given, e.g. ``{"truncate": "END"}``; ``None``: not sent.',
    )
    max_documents_per_request: int | None = Field(
        default=None,
        ge=1,
        description="The document limit, for a model not listed above; ``None``: the model's documented one.",
    )

    @field_validator("api_version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"must be a non-blank string like {DEFAULT_API_VERSION!r}, got {value!r}")
        return value.strip()

    @field_validator("parameters", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        if value is None or isinstance(value, dict):
            return value
        if isinstance(value, Mapping):
            return dict(value)
        raise ValueError(f"must be a mapping like {{'truncate': 'END'}}, got {type(value).__name__}")


class PineconeBackend(RemoteBackend):
    """Scores with Pinecone's ``/rerank``; the key comes from ``api_key`` or ``PINECONE_API_KEY``.

    Sends the key as ``Api-Key`` and ``X-Pinecone-Api-Version: 2025-10`` (``api_version``),
    documents as ``{"text"}`` objects with ``return_documents: false``; splits to each model's
    documented document limit (100 for ``bge-reranker-v2-m3`` and ``pinecone-rerank-v0``, 200 for
    ``cohere-rerank-3.5``, 250 for ``cohere-rerank-4-fast``). Usage reports ``usage.rerank_units``
    as search units (the eval table calls them rerank units).

    Args:
        model: A Pinecone-hosted reranking model; another needs ``max_documents_per_request``.
        **options: The options of every remote backend (``timeout``, ``max_retries``, ...; see
            :class:`~rerankit.backends.RemoteBackend`).

    Raises:
        ConfigurationError: An option breaks its rule, the model has no known document limit and
            ``max_documents_per_request`` is not given, or no key is given or set.

    Here against the loopback server that speaks Pinecone's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("pinecone") as server:
    ...     reranker = Reranker("pinecone/bge-reranker-v2-m3", base_url=server.base_url, api_key="test-key", parameters={"truncate": "END"})
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    ...     sent = server.requests[0].json
    >>> response.results[0].index, sent["parameters"], reranker.backend.max_documents_per_request
    (1, {'truncate': 'END'}, 100)
    """

    provider = PROVIDER
    options_model = PineconeOptions
    api_version: str
    parameters: dict[str, Any] | None
    #: What the scores are (docs/scores.md). Pinecone's rerank guide: the score "represents the
    #: relevance of a document to the query, normalized between 0 and 1".
    score_scale = ScoreScale(
        kind="relevance",
        range=(0.0, 1.0),
        description="Pinecone's score",
        normalization="identity",
        source="Pinecone docs, guides/search/rerank-results: score normalized between 0 and 1",
    )

    def configure(self, options: PineconeOptions) -> None:
        """The document limit: the option, else the model's documented one."""
        model = self.model
        limit = options.max_documents_per_request
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


__all__ = ["DEFAULT_API_VERSION", "MODEL_DOCUMENT_LIMITS", "PROVIDER", "PineconeBackend", "PineconeOptions"]
