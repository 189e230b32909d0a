"""Cohere's rerank API: ``POST {base_url}/v2/rerank`` (``cohere/rerank-v3.5``, ``cohere/rerank-v4.0-pro``, ...)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rerankit._options_base import Options
from rerankit._score_kinds import ScoreScale
from rerankit.backends._provider import ProviderSpec
from rerankit.backends._remote import RemoteBackend

#: Cohere's documented facts (https://docs.cohere.com/reference/rerank).
PROVIDER = ProviderSpec(
    name="cohere",
    path="/v2/rerank",
    default_base_url="https://api.cohere.com",
    api_key_env=("COHERE_API_KEY", "CO_API_KEY"),
    max_documents=1000,
    # https://docs.cohere.com/changelog/rerank-v3.5: "max_tokens_per_doc will determine the maximum
    # amount of tokens a document can have before truncation. The default value ... is 4096."
    document_token_limit=4096,
    limit_counts_query=False,
    truncates_server_side=True,
    tokens_at=(("meta", "billed_units", "input_tokens"),),
    search_units_at=(("meta", "billed_units", "search_units"),),
    loopback="rerankit.testing.servers._cohere:CohereFormat",
    example_model="rerank-v3.5",
)


class CohereOptions(Options):
    """The options of :class:`CohereBackend` beside those of every remote backend."""

    # https://docs.cohere.com/reference/rerank (as the team's wire-formats reference records it):
    # max_tokens_per_doc defaults to 4096; priority is 0-999, lower first.
    max_tokens_per_doc: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Tokens of each document Cohere keeps; longer ones are truncated by Cohere (counting its "
            'own tokens), and ``long_documents="chunk"`` windows fit it. ``None``: Cohere\'s default '
            "of 4,096."
        ),
    )
    priority: int | None = Field(
        default=None,
        ge=0,
        le=999,
        description=(
            "Cohere's request priority, an integer from 0 to 999 (lower is served first); ``None``: not sent."
        ),
    )


class CohereBackend(RemoteBackend):
    """Scores with Cohere's ``/v2/rerank``; the key comes from ``api_key``, ``COHERE_API_KEY`` or ``CO_API_KEY``.

    Up to 1,000 documents per request (the core splits longer lists); usage reports the billed
    search units.

    Args:
        model: A Cohere rerank model (``rerank-v3.5``, ``rerank-v4.0-pro``, ...).
        **options: The options of every remote backend (``base_url``, ``timeout``, ``max_retries``,
            ...; see :class:`~rerankit.backends.RemoteBackend`).

    Raises:
        ConfigurationError: An option breaks its rule, or no key is given or set.

    Here against the loopback server that speaks Cohere's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("cohere") as server:
    ...     reranker = Reranker("cohere/rerank-v3.5", base_url=server.base_url, api_key="test-key", max_tokens_per_doc=512)
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    ...     sent = server.requests[0].json
    >>> response.results[0].index, sent["max_tokens_per_doc"]
    (1, 512)
    """

    provider = PROVIDER
    options_model = CohereOptions
    max_tokens_per_doc: int | None
    priority: int | None
    #: What the scores are (docs/scores.md). Cohere's API reference (V2RerankResponseResultsItem):
    #: "Relevance scores are normalized to be in the range [0, 1]".
    score_scale = ScoreScale(
        kind="relevance",
        range=(0.0, 1.0),
        description="Cohere's relevance_score",
        normalization="identity",
        source="Cohere API reference, POST /v2/rerank: relevance_score is normalized to [0, 1]",
    )

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "query": query, "documents": texts}
        if self.max_tokens_per_doc is not None:
            body["max_tokens_per_doc"] = self.max_tokens_per_doc
        if self.priority is not None:
            body["priority"] = self.priority
        return body


__all__ = ["PROVIDER", "CohereBackend", "CohereOptions"]
