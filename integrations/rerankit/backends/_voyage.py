"""Voyage AI's rerank API: ``POST {base_url}/v1/rerank`` (``voyage/rerank-2.5``, ``voyage/rerank-2.5-lite``, ...).

Wire format from the API reference (https://docs.voyageai.com/reference/reranker-api) and the
official client (voyage-ai/voyageai-python: ``client.py`` ``rerank``, ``object/reranking.py``,
``api_resources/api_requestor.py`` ``handle_error_response``, ``util.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rerankit._errors import ConfigurationError
from rerankit._options_base import Options
from rerankit._score_kinds import ScoreScale
from rerankit.backends._provider import AnswerFields, ProviderSpec
from rerankit.backends._remote import RemoteBackend
from rerankit.backends._splitting import pack_by_cost, utf8_bytes

#: "The total number of tokens, defined as 'the number of query tokens x the number of documents +
#: sum of the number of tokens in all documents', cannot exceed 600K for rerank-2.5,
#: rerank-2.5-lite, rerank-2 and rerank-2-lite; and 300K for rerank-1 and rerank-lite-1."
#: (docs.voyageai.com/reference/reranker-api, documents).
MODEL_TOTAL_TOKENS: dict[str, int] = {
    "rerank-2.5": 600_000,
    "rerank-2.5-lite": 600_000,
    "rerank-2": 600_000,
    "rerank-2-lite": 600_000,
    "rerank-1": 300_000,
    "rerank-lite-1": 300_000,
}
#: Voyage's documented facts (the reference; the client's util.py and object/reranking.py:
#: data[].index/relevance_score, usage.total_tokens).
PROVIDER = ProviderSpec(
    name="voyage",
    path="/v1/rerank",
    default_base_url="https://api.voyageai.com",  # util.py: api_base default "https://api.voyageai.com/v1"
    api_key_env=("VOYAGE_API_KEY",),  # util.py: os.environ.get("VOYAGE_API_KEY")
    max_documents=1000,  # reference: "The number of documents cannot exceed 1,000."
    answer=AnswerFields(results="data", score="relevance_score", document="document"),
    tokens_at=(("usage", "total_tokens"),),
    loopback="rerankit.testing.servers._voyage:VoyageFormat",
    example_model="rerank-2.5",
)
#: Tokens allowed for the special tokens a tokenizer may add around each text.
SPECIAL_TOKENS_PER_TEXT = 4


def estimated_tokens(text: str) -> int:
    """A count Voyage's tokenizer never exceeds: the text's UTF-8 bytes, plus special tokens.

    Byte-level BPE tokens and SentencePiece byte-fallback tokens each cover at least one byte, so
    a text has at most as many tokens as bytes. English runs about 4 bytes a token, so this
    over-counts about fourfold: requests are smaller than they could be, never too large.

    >>> estimated_tokens("héllo")
    10
    """
    return utf8_bytes(text) + SPECIAL_TOKENS_PER_TEXT


class VoyageOptions(Options):
    """The options of :class:`VoyageBackend` beside those of every remote backend."""

    truncation: bool | None = Field(
        default=None,
        description=(
            "Send ``truncation``; ``None``: Voyage's default, true (over-long queries and documents "
            "are truncated); false: they are a 400."
        ),
    )
    max_total_tokens: int | None = Field(
        default=None,
        ge=1,
        description="The total-token limit, for a model not listed above; ``None``: the model's documented one.",
    )


class VoyageBackend(RemoteBackend):
    """Scores with Voyage's ``/v1/rerank``; the key comes from ``api_key`` or ``VOYAGE_API_KEY``.

    Splits on both documented limits: at most 1,000 documents per request, and the model's total
    tokens (query tokens x documents + document tokens, 600K or 300K), counted with
    :func:`estimated_tokens`, which never under-counts. Usage reports ``usage.total_tokens``.

    Args:
        model: ``rerank-2.5``, ``rerank-2.5-lite``, ``rerank-2``, ``rerank-2-lite``, ``rerank-1`` or
            ``rerank-lite-1``; another model needs ``max_total_tokens``.
        **options: The options of every remote backend (``timeout``, ``max_retries``, ...; see
            :class:`~rerankit.backends.RemoteBackend`).

    Raises:
        ConfigurationError: An option breaks its rule, the model has no known limit and
            ``max_total_tokens`` is not given, or no key is given or set.

    Here against the loopback server that speaks Voyage's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("voyage") as server:
    ...     reranker = Reranker("voyage/rerank-2.5", base_url=server.base_url, api_key="test-key")
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    >>> response.results[0].index, reranker.backend.max_total_tokens
    (1, 600000)
    """

    provider = PROVIDER
    options_model = VoyageOptions
    truncation: bool | None
    max_total_tokens: int
    #: What the scores are (docs/scores.md): Voyage's relevance in 0-1; the API reference
    #: (https://docs.voyageai.com/reference/reranker-api) does not state a range.
    score_scale = ScoreScale(
        kind="relevance",
        range=(0.0, 1.0),
        description="Voyage's relevance_score",
        normalization="identity",
        source="Voyage reranker API reference, POST /v1/rerank (relevance_score)",
    )

    def configure(self, options: VoyageOptions) -> None:
        """The total-token limit: the option, else the model's documented one."""
        model = self.model
        total = (
            options.max_total_tokens
            if options.max_total_tokens is not None
            else MODEL_TOTAL_TOKENS.get(model)
        )
        if total is None:
            raise ConfigurationError(
                f"voyage model {model!r} has no known total-token limit; pass max_total_tokens=... "
                f"(known models: {', '.join(MODEL_TOTAL_TOKENS)})",
                provider=self.name,
            )
        self.max_total_tokens = total

    def split_request(self, query: str, texts: list[str]) -> list[list[str]]:
        """Cut ``texts`` so that query tokens x documents + document tokens stays within the limit."""
        query_tokens = estimated_tokens(query)
        return pack_by_cost(texts, lambda text: query_tokens + estimated_tokens(text), self.max_total_tokens)

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        # Reference body params: query, documents, model, top_k, return_documents (default false),
        # truncation (default true). top_k is not sent: the core cuts.
        body: dict[str, Any] = {"query": query, "documents": texts, "model": self.model}
        if self.truncation is not None:
            body["truncation"] = self.truncation
        return body


__all__ = ["MODEL_TOTAL_TOKENS", "PROVIDER", "VoyageBackend", "VoyageOptions", "estimated_tokens"]
