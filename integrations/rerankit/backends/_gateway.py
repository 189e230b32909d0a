"""OpenAI-compatible rerank gateways: ``POST {base_url}/v1/rerank``, falling back to ``/rerank``.

Spoken by hosted routers, Bifrost-style gateways, the LiteLLM proxy, vLLM and Infinity. The model
id is sent as given (``gateway/cohere/rerank-v3.5`` sends ``"cohere/rerank-v3.5"``).
"""

from __future__ import annotations

from typing import Any

from rerankit._errors import ConfigurationError
from rerankit._types import Usage
from rerankit.backends._http import PathFallback, Reply
from rerankit.backends._remote import (
    RemoteBackend,
    optional_int_between,
    optional_positive_int,
    positive_int,
)
from rerankit.backends._responses import number_at, whole_number_at

#: The documented path first, then the one vLLM and Infinity serve without a ``/v1`` prefix.
PATHS = ("/v1/rerank", "/rerank")
#: Answers from ``/v1/rerank`` that mean "not here": try ``/rerank`` once.
PATH_FALLBACK_STATUSES = frozenset({404, 405, 501})
#: Tried once per endpoint; the path that works there is kept for the backend's lifetime.
PATH_FALLBACK = PathFallback(PATHS[1], PATH_FALLBACK_STATUSES)


class GatewayBackend(RemoteBackend):
    """Scores through an OpenAI-compatible ``/v1/rerank`` gateway at ``base_url`` (or ``RERANKIT_GATEWAY_URL``).

    The key (``api_key`` or ``RERANKIT_GATEWAY_API_KEY``) is optional: self-hosted servers often
    need none. When ``/v1/rerank`` answers 404, 405 or 501 the same body is sent once to
    ``/rerank``, and the path that worked is used for the backend's lifetime (per endpoint, when
    ``base_url`` lists several).
    ``max_tokens_per_doc``, ``priority`` and ``gateway_fallbacks`` (sent as the body's
    ``fallbacks``: the gateway's own model fallbacks) are passed through when set, and so are
    vLLM's ``truncate_prompt_tokens`` (an integer of at least -1; -1: the model's limit) and
    ``instruction`` (Qwen3-Reranker style).

    >>> from rerankit import Reranker
    >>> reranker = Reranker("gateway/cohere/rerank-v3.5", base_url="http://localhost:8080")  # doctest: +SKIP
    """

    name = "gateway"
    base_url_env = ("RERANKIT_GATEWAY_URL",)
    api_key_env = ("RERANKIT_GATEWAY_API_KEY",)
    api_key_required = False
    documents_limit = 1000

    def __init__(
        self,
        model: str,
        *,
        max_documents_per_request: int = 1000,
        max_tokens_per_doc: int | None = None,
        priority: int | None = None,
        gateway_fallbacks: list[str] | None = None,
        truncate_prompt_tokens: int | None = None,
        instruction: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        # vLLM entrypoints/pooling/base/protocol.py PoolingBasicRequestMixin:
        # truncate_prompt_tokens: Annotated[int, Field(ge=-1)] | None
        self.truncate_prompt_tokens = optional_int_between(
            "truncate_prompt_tokens", truncate_prompt_tokens, -1, 2**31 - 1, self.name
        )
        if instruction is not None and (not isinstance(instruction, str) or not instruction.strip()):
            raise ConfigurationError("instruction must be a non-empty string", provider=self.name)
        self.instruction = instruction
        self.max_documents_per_request = positive_int(
            "max_documents_per_request", max_documents_per_request, self.name
        )
        self.max_tokens_per_doc = optional_positive_int("max_tokens_per_doc", max_tokens_per_doc, self.name)
        if priority is not None and (
            isinstance(priority, bool) or not isinstance(priority, int) or priority < 0
        ):
            raise ConfigurationError(
                f"priority must be an integer of at least 0, got {priority!r}", provider=self.name
            )
        self.priority = priority
        if gateway_fallbacks is not None and (
            isinstance(gateway_fallbacks, str)
            or not all(isinstance(m, str) and m.strip() for m in gateway_fallbacks)
        ):
            raise ConfigurationError(
                "gateway_fallbacks must be a list of model ids like ['vllm/BAAI/bge-reranker-v2-m3']",
                provider=self.name,
            )
        # Sent as the body's "fallbacks" field; named apart from Reranker(..., fallbacks=[...]),
        # which falls back between rerankit backends on the client side.
        self.gateway_fallbacks = list(gateway_fallbacks) if gateway_fallbacks is not None else None

    def request_path(self) -> str:
        return PATHS[0]

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "query": query, "documents": texts}
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

    def post(self, body: dict[str, Any]) -> Reply:
        return self.transport.post(PATHS[0], body, fallback=PATH_FALLBACK)

    async def apost(self, body: dict[str, Any]) -> Reply:
        return await self.transport.apost(PATHS[0], body, fallback=PATH_FALLBACK)


__all__ = ["PATHS", "PATH_FALLBACK_STATUSES", "GatewayBackend"]
