"""OpenAI-compatible ``POST /v1/rerank`` gateways (see the wire-format reference, docs/backends/gateway.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rerankit.backends._gateway import PROVIDER
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, Strict, ranked_results


class GatewayDocument(Strict):
    text: str
    id: str | None = None
    meta: dict[str, Any] | None = None


class GatewayRequest(Strict):
    model: str
    query: str
    documents: list[str | GatewayDocument]
    top_n: int | None = None
    return_documents: bool | None = None
    max_tokens_per_doc: int | None = Field(default=None, ge=1)
    priority: int | None = Field(default=None, ge=0)
    fallbacks: list[str] | None = None
    truncate_prompt_tokens: int | None = Field(default=None, ge=-1)  # passed on to vLLM
    instruction: str | None = None  # passed on to Qwen3-style rerankers


class GatewayFormat(ProviderFormat):
    """A Bifrost-style gateway: Bearer key, 400 on a bad body, ``{"is_bifrost_error", "error"}`` errors."""

    provider = PROVIDER
    request_model = GatewayRequest
    validation_status = 400

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # vLLM entrypoints/pooling/score/protocol.py RerankRequest; LiteLLM /v1/rerank
        return "/v1/rerank", {"model": "cohere/rerank-v3.5", "query": query, "documents": documents}

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        texts = [doc if isinstance(doc, str) else doc.text for doc in parsed.documents]
        top_n = parsed.top_n or None  # vLLM-style: 0 means all
        return Call(parsed.query, texts, top_n, bool(parsed.return_documents), parsed.model, parsed)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        tokens = self.tokens(call)
        provider, _, model = call.model.partition("/")
        return {
            "id": request_id,
            "results": ranked_results(call, scores, fault, document=lambda text: {"text": text}),
            "model": model or call.model,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
            "extra_fields": {"request_type": "rerank", "provider": provider, "latency": 1},
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {
            "is_bifrost_error": False,
            "status_code": status,
            "error": {"message": rejected.message, "type": kind},
        }


__all__ = ["GatewayDocument", "GatewayFormat", "GatewayRequest"]
