"""Mixedbread's reranking API: ``POST {base_url}/v1/reranking`` (``mixedbread/mixedbread-ai/mxbai-rerank-large-v2``, ...).

Wire format from the API reference
(https://www.mixedbread.com/api-reference/endpoints/reranking/rerank-documents) and the official
SDK (mixedbread-ai/mixedbread-python: ``_client.py`` ``rerank``, ``types/client_rerank_params.py``,
``types/rerank_response.py``, ``types/shared/usage.py``).
"""

from __future__ import annotations

from typing import Any

from rerankit._score_kinds import ScoreScale
from rerankit.backends._provider import AnswerFields, ProviderSpec
from rerankit.backends._remote import RemoteBackend

#: Mixedbread's documented facts (API reference; the official client's ``_client.py`` and
#: ``rerank_response.py``: data[].index/score, usage.total_tokens).
PROVIDER = ProviderSpec(
    name="mixedbread",
    path="/v1/reranking",
    default_base_url="https://api.mixedbread.com",  # _client.py ENVIRONMENTS["production"]
    base_url_env=("MIXEDBREAD_BASE_URL",),  # _client.py: os.environ.get("MIXEDBREAD_BASE_URL")
    api_key_env=("MXBAI_API_KEY",),  # _client.py: os.environ.get("MXBAI_API_KEY")
    max_documents=1000,  # API reference: input "Maximum items: 1000"
    answer=AnswerFields(results="data", score="score", document="input"),
    tokens_at=(("usage", "total_tokens"),),
    loopback="rerankit.testing.servers._mixedbread:MixedbreadFormat",
    example_model="mixedbread-ai/mxbai-rerank-large-v2",
    content_fields=("query", "input"),
)


class MixedbreadBackend(RemoteBackend):
    """Scores with Mixedbread's ``/v1/reranking``; the key comes from ``api_key`` or ``MXBAI_API_KEY``.

    Sends ``return_input: false``; up to 1,000 inputs per request (the core splits longer lists);
    usage reports ``usage.total_tokens``.

    Its options are those of every remote backend (``base_url``, ``timeout``, ``max_retries``, ...;
    see :class:`~rerankit.backends.RemoteBackend`); Mixedbread has none of its own. The address may
    also come from ``MIXEDBREAD_BASE_URL``.

    Args:
        model: A Mixedbread reranker (``mixedbread-ai/mxbai-rerank-large-v2``, ...).

    Raises:
        ConfigurationError: An option breaks its rule, or no key is given or set.

    Here against the loopback server that speaks Mixedbread's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("mixedbread") as server:
    ...     reranker = Reranker("mixedbread/mixedbread-ai/mxbai-rerank-large-v2", base_url=server.base_url, api_key="test-key")
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    ...     sent = server.requests[0].json
    >>> response.results[0].index, sent["return_input"]
    (1, False)
    """

    provider = PROVIDER
    #: What the scores are (docs/scores.md): Mixedbread's score, 0-1 in its API reference's
    #: examples (https://www.mixedbread.com/api-reference/endpoints/reranking) without a stated range.
    score_scale = ScoreScale(
        kind="relevance",
        range=(0.0, 1.0),
        description="Mixedbread's score",
        normalization="identity",
        source="Mixedbread API reference, POST /v1/reranking (data[].score)",
    )

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        # client_rerank_params.py: model, query, input, rank_fields, top_k, return_input, rewrite_query
        return {"model": self.model, "query": query, "input": texts, "return_input": False}


__all__ = ["PROVIDER", "MixedbreadBackend"]
