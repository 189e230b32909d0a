"""ZeroEntropy's rerank API: ``POST {base_url}/v1/models/rerank`` (``zeroentropy/zerank-2``, ...).

Wire format from the API reference (https://docs.zeroentropy.dev/api-reference/models/rerank) and
the official SDK (zeroentropy-ai/zeroentropy-python: ``types/model_rerank_params.py``,
``types/model_rerank_response.py``, ``_client.py``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rerankit._options_base import Options
from rerankit._score_kinds import ScoreScale
from rerankit.backends._provider import ProviderSpec
from rerankit.backends._remote import RemoteBackend
from rerankit.backends._splitting import pack_by_cost, utf8_bytes

#: "The maximum per-request payload size is 5000000 bytes." (API reference, models/rerank)
PAYLOAD_LIMIT = 5_000_000
#: "The 'bytes' used by a request is calculated as sum(150 + query.encode('utf-8') +
#: d.encode('utf-8') for d in documents)." (API reference, models/rerank)
BYTES_PER_DOCUMENT = 150
#: ZeroEntropy's documented facts (API reference, models/rerank; the SDK's ``_client.py``).
PROVIDER = ProviderSpec(
    name="zeroentropy",
    path="/v1/models/rerank",
    default_base_url="https://api.zeroentropy.dev",  # _client.py: "https://api.zeroentropy.dev/v1"
    api_key_env=("ZEROENTROPY_API_KEY",),  # _client.py: os.environ.get("ZEROENTROPY_API_KEY")
    max_documents=None,  # no count is documented; the limit is bytes
    max_request_bytes=PAYLOAD_LIMIT,
    tokens_at=(("total_tokens",),),  # results[].index/relevance_score, total_bytes, total_tokens, ...
    loopback="rerankit.testing.servers._zeroentropy:ZeroEntropyFormat",
    example_model="zerank-2",
)


class ZeroEntropyOptions(Options):
    """The options of :class:`ZeroEntropyBackend` beside those of every remote backend."""

    # model_rerank_params.py: ``latency: Optional[Literal["fast", "slow"]]``
    latency: Literal["fast", "slow"] | None = Field(
        default=None,
        description=(
            '``"fast"`` or ``"slow"``; ``None``: not sent (fast, falling back to slow when the fast '
            "rate limit is exceeded)."
        ),
    )


class ZeroEntropyBackend(RemoteBackend):
    """Scores with ZeroEntropy's ``/v1/models/rerank``; the key comes from ``api_key`` or ``ZEROENTROPY_API_KEY``.

    Splits each call so that its payload, as ZeroEntropy counts it (150 bytes plus the query's and
    the document's UTF-8 bytes, per document), stays within 5,000,000 bytes. Usage reports
    ``total_tokens``. Rate limits are in bytes per minute: past them ZeroEntropy answers 429 (with
    ``latency="fast"``) and the call is retried like any 429.

    Args:
        model: ``zerank-2``, ``zerank-1`` or ``zerank-1-small``.
        **options: The options of every remote backend (``timeout``, ``max_retries``, ...; see
            :class:`~rerankit.backends.RemoteBackend`).

    Raises:
        ConfigurationError: ``latency`` is not one of its choices, or no key is given or set.

    Here against the loopback server that speaks ZeroEntropy's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("zeroentropy") as server:
    ...     reranker = Reranker("zeroentropy/zerank-2", base_url=server.base_url, api_key="test-key", latency="slow")
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    ...     sent = server.requests[0].json
    >>> response.results[0].index, sent["latency"]
    (1, 'slow')
    """

    provider = PROVIDER
    options_model = ZeroEntropyOptions
    latency: str | None
    #: What the scores are (docs/scores.md): ZeroEntropy documents relevance_score in 0-1,
    #: calibrated (https://docs.zeroentropy.dev/api-reference/models/rerank; "score calibration").
    score_scale = ScoreScale(
        kind="relevance",
        range=(0.0, 1.0),
        description="ZeroEntropy's calibrated relevance_score",
        normalization="identity",
        source="ZeroEntropy API reference, POST /v1/models/rerank (relevance_score, 0 to 1)",
    )

    def split_request(self, query: str, texts: list[str]) -> list[list[str]]:
        """Cut ``texts`` so that each request's payload stays within 5,000,000 bytes."""
        per_document = BYTES_PER_DOCUMENT + utf8_bytes(query)
        return pack_by_cost(texts, lambda text: per_document + utf8_bytes(text), PAYLOAD_LIMIT)

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        # model_rerank_params.py: documents, model, query (required), latency, top_n (optional)
        body: dict[str, Any] = {"model": self.model, "query": query, "documents": texts}
        if self.latency is not None:
            body["latency"] = self.latency
        return body


__all__ = ["BYTES_PER_DOCUMENT", "PAYLOAD_LIMIT", "PROVIDER", "ZeroEntropyBackend", "ZeroEntropyOptions"]
