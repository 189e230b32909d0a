"""ZeroEntropy's rerank API: ``POST {base_url}/v1/models/rerank`` (``zeroentropy/zerank-2``, ...).

Wire format from the API reference (https://docs.zeroentropy.dev/api-reference/models/rerank) and
the official SDK (zeroentropy-ai/zeroentropy-python: ``types/model_rerank_params.py``,
``types/model_rerank_response.py``, ``_client.py``).
"""

from __future__ import annotations

from typing import Any

from rerankit._errors import ConfigurationError
from rerankit._types import Usage
from rerankit.backends._remote import RemoteBackend
from rerankit.backends._responses import whole_number_at
from rerankit.backends._splitting import pack_by_cost, utf8_bytes

#: "The maximum per-request payload size is 5000000 bytes." (API reference, models/rerank)
PAYLOAD_LIMIT = 5_000_000
#: "The 'bytes' used by a request is calculated as sum(150 + query.encode('utf-8') +
#: d.encode('utf-8') for d in documents)." (API reference, models/rerank)
BYTES_PER_DOCUMENT = 150
#: model_rerank_params.py: ``latency: Optional[Literal["fast", "slow"]]``
LATENCIES = ("fast", "slow")


class ZeroEntropyBackend(RemoteBackend):
    """Scores with ZeroEntropy's ``/v1/models/rerank``; the key comes from ``api_key`` or ``ZEROENTROPY_API_KEY``.

    Splits each call so that its payload, as ZeroEntropy counts it (150 bytes plus the query's and
    the document's UTF-8 bytes, per document), stays within 5,000,000 bytes. Usage reports
    ``total_tokens``. Rate limits are in bytes per minute: past them ZeroEntropy answers 429 (with
    ``latency="fast"``) and the call is retried like any 429.

    Args:
        model: ``zerank-2``, ``zerank-1`` or ``zerank-1-small``.
        latency: ``"fast"`` or ``"slow"`` (``None``: fast, falling back to slow when the fast rate
            limit is exceeded).
        **options: the options of every remote backend (``timeout``, ``max_retries``, ...).

    >>> from rerankit import Reranker
    >>> reranker = Reranker("zeroentropy/zerank-2", api_key="...")  # doctest: +SKIP
    """

    name = "zeroentropy"
    default_base_url = "https://api.zeroentropy.dev"  # _client.py: "https://api.zeroentropy.dev/v1"
    api_key_env = ("ZEROENTROPY_API_KEY",)  # _client.py: os.environ.get("ZEROENTROPY_API_KEY")
    documents_limit = None  # type: ignore[assignment]  # no count is documented; the limit is bytes

    def __init__(self, model: str, *, latency: str | None = None, **options: Any) -> None:
        super().__init__(model, **options)
        if latency is not None and latency not in LATENCIES:
            raise ConfigurationError(
                f"latency must be 'fast', 'slow' or None, got {latency!r}", provider=self.name
            )
        self.latency = latency

    def split_request(self, query: str, texts: list[str]) -> list[list[str]]:
        """Cut ``texts`` so that each request's payload stays within 5,000,000 bytes."""
        per_document = BYTES_PER_DOCUMENT + utf8_bytes(query)
        return pack_by_cost(texts, lambda text: per_document + utf8_bytes(text), PAYLOAD_LIMIT)

    def request_path(self) -> str:
        return "/v1/models/rerank"

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        # model_rerank_params.py: documents, model, query (required), latency, top_n (optional)
        body: dict[str, Any] = {"model": self.model, "query": query, "documents": texts}
        if self.latency is not None:
            body["latency"] = self.latency
        return body

    def read_usage(self, payload: Any) -> Usage:
        # API reference response: results[].index/relevance_score, total_bytes, total_tokens, ...
        return Usage(tokens=whole_number_at(payload, "total_tokens"))


__all__ = ["PAYLOAD_LIMIT", "ZeroEntropyBackend"]
