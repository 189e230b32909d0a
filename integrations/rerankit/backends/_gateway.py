"""OpenAI-compatible rerank gateways: ``POST {base_url}/v1/rerank``, falling back to ``/rerank``.

Spoken by hosted routers, Bifrost-style gateways, the LiteLLM proxy, vLLM and Infinity. The model
id is sent as given (``gateway/cohere/rerank-v3.5`` sends ``"cohere/rerank-v3.5"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from rerankit._documents import content_parts
from rerankit._options_base import NonBlankStr, Options
from rerankit._score_kinds import ScoreScale
from rerankit._types import Usage
from rerankit.backends._gateway_paths import PathFallback
from rerankit.backends._provider import ProviderSpec
from rerankit.backends._remote import RemoteBackend
from rerankit.backends._responses import ProviderReply, number_at, whole_number_at

#: The documented path first, then the one vLLM and Infinity serve without a ``/v1`` prefix.
PATHS = ("/v1/rerank", "/rerank")
#: Answers from ``/v1/rerank`` that mean "not here": try ``/rerank`` once.
PATH_FALLBACK_STATUSES = frozenset({404, 405, 501})
#: Tried once per endpoint; the path that works there is kept for the backend's lifetime.
PATH_FALLBACK = PathFallback(PATHS[1], PATH_FALLBACK_STATUSES)


class GatewayOptions(Options):
    """The options of :class:`GatewayBackend` beside those of every remote backend."""

    max_documents_per_request: int = Field(
        default=1000, ge=1, description="Most documents one request carries; the core splits longer lists."
    )
    max_tokens_per_doc: int | None = Field(
        default=None,
        ge=1,
        description="Tokens of each document the provider keeps (Cohere's meaning); an integer of at "
        "least 1.",
    )
    priority: int | None = Field(
        default=None, ge=0, description="The gateway's request priority, an integer of at least 0."
    )
    gateway_fallbacks: tuple[str, ...] | None = Field(
        default=None,
        description="Model ids sent as the body's ``fallbacks``: the gateway's own model fallbacks "
        "(not :class:`~rerankit.Reranker`'s ``fallbacks``, which fall back between rerankit "
        "backends on the client side).",
    )
    # vLLM entrypoints/pooling/base/protocol.py PoolingBasicRequestMixin:
    # truncate_prompt_tokens: Annotated[int, Field(ge=-1)] | None
    truncate_prompt_tokens: int | None = Field(
        default=None,
        ge=-1,
        le=2**31 - 1,
        description="vLLM's ``truncate_prompt_tokens``, an integer of at least -1 (-1: the model's limit).",
    )
    instruction: NonBlankStr | None = Field(
        default=None, description="The task instruction (Qwen3-Reranker style), a non-blank string."
    )

    @field_validator("gateway_fallbacks", mode="before")
    @classmethod
    def _model_ids(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise ValueError(
                f"must be a list of model ids like ['vllm/BAAI/bge-reranker-v2-m3'], got {type(value).__name__}"
            )
        for position, model in enumerate(value):
            if not isinstance(model, str) or not model.strip():
                raise ValueError(f"entry {position} is {model!r}, expected a model id")
        return tuple(value)


def vllm_document(document: Any) -> Any:
    """A document as vLLM's ``/v1/rerank`` takes it: a text as it is, a document with images as
    ``{"content": [parts]}`` (``ScoreMultiModalParam``; images as base64 data URLs, parts in order).

    vLLM ``entrypoints/pooling/score/protocol.py`` ``RerankRequest.documents: ScoreInputs`` and
    ``score/utils.py`` (``ScoreInput = str | ScoreMultiModalParam``).
    """
    return document if isinstance(document, str) else {"content": content_parts(document)}


#: A gateway's facts: any known answer shape is read (``answer=None``: it fronts several providers).
PROVIDER = ProviderSpec(
    name="gateway",
    path=PATHS[0],
    base_url_env=("RERANKIT_GATEWAY_URL",),
    api_key_env=("RERANKIT_GATEWAY_API_KEY",),
    api_key_required=False,
    max_documents=GatewayOptions.default("max_documents_per_request"),
    answer=None,
    loopback="rerankit.testing.servers._gateway:GatewayFormat",
    example_model="cohere/rerank-v3.5",
)


class GatewayBackend(RemoteBackend):
    """Scores through an OpenAI-compatible ``/v1/rerank`` gateway at ``base_url`` (or ``RERANKIT_GATEWAY_URL``).

    The key (``api_key`` or ``RERANKIT_GATEWAY_API_KEY``) is optional: self-hosted servers often
    need none. When ``/v1/rerank`` answers 404, 405 or 501 the same body is sent once to
    ``/rerank``, and the path that worked is used for the backend's lifetime (per endpoint, when
    ``base_url`` lists several). Documents holding images are sent as vLLM's content parts
    (``{"content": [{"type": "image_url", ...}, {"type": "text", ...}]}``, images as base64 data
    URLs); a server whose model takes no images answers 400. The options below but ``max_documents_per_request`` are sent in
    the body only when set.

    Args:
        model: The model id, sent as given (``gateway/cohere/rerank-v3.5`` sends
            ``"cohere/rerank-v3.5"``).
        **options: The options of every remote backend (``base_url``, ``timeout``, ``max_retries``,
            ...; see :class:`~rerankit.backends.RemoteBackend`).

    Raises:
        ConfigurationError: An option breaks its rule, or no address is given or set.

    Here against a loopback server that serves only ``/rerank`` (as vLLM and Infinity do):

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("gateway", paths=["/rerank"]) as server:
    ...     reranker = Reranker("gateway/cohere/rerank-v3.5", base_url=server.base_url, api_key="test-key")
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    ...     paths = [request.path for request in server.requests]
    >>> response.results[0].index, paths
    (1, ['/v1/rerank', '/rerank'])
    """

    #: Image documents go as vLLM's content parts; a server whose model takes none refuses them.
    accepts_images = True

    #: What the scores are (docs/scores.md): the relevance_score the server behind the route gives,
    #: 0-1 for Cohere and Jina behind a router and for vLLM's /rerank (the model's activation, as
    #: sentence-transformers applies it); a server configured to return raw logits is not covered.
    score_scale = ScoreScale(
        kind="relevance",
        range=(0.0, 1.0),
        description="the gateway's relevance_score (its upstream's)",
        normalization="identity",
        source="OpenAI-style /v1/rerank (vLLM entrypoints/pooling/score/protocol.py RerankResponse; LiteLLM, Bifrost)",
    )
    provider = PROVIDER
    options_model = GatewayOptions

    def configure(self, options: GatewayOptions) -> None:
        # a list in the body, as the gateway's docs show it
        fallbacks = options.gateway_fallbacks
        self.gateway_fallbacks = list(fallbacks) if fallbacks is not None else None

    def request_path(self) -> str:
        return PATHS[0]

    def request_body(self, query: str, texts: list[Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "query": query,
            "documents": [vllm_document(t) for t in texts],
        }
        extras = {
            "max_tokens_per_doc": self.max_tokens_per_doc,
            "priority": self.priority,
            "fallbacks": self.gateway_fallbacks,
            "truncate_prompt_tokens": self.truncate_prompt_tokens,
            "instruction": self.instruction,
        }
        body.update({field: value for field, value in extras.items() if value is not None})
        return body

    def read_usage(self, payload: Any) -> Usage:
        tokens = whole_number_at(payload, "usage", "total_tokens")
        if tokens is None:
            tokens = whole_number_at(payload, "usage", "prompt_tokens")
        search_units = number_at(payload, "usage", "search_units")
        if search_units is None:  # LiteLLM proxies answer Cohere-style
            search_units = number_at(payload, "meta", "billed_units", "search_units")
        return Usage(tokens=tokens, search_units=search_units)

    def post(self, body: dict[str, Any]) -> ProviderReply:
        return self.transport.post(PATHS[0], body, fallback=PATH_FALLBACK)

    async def apost(self, body: dict[str, Any]) -> ProviderReply:
        return await self.transport.apost(PATHS[0], body, fallback=PATH_FALLBACK)


__all__ = ["PATHS", "PATH_FALLBACK_STATUSES", "GatewayBackend", "GatewayOptions", "vllm_document"]
