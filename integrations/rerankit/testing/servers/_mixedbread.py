"""Mixedbread's ``POST /v1/reranking`` (mixedbread.com/api-reference/endpoints/reranking; mixedbread-python)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rerankit.backends._mixedbread import PROVIDER
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, Strict


class MixedbreadRequest(Strict):
    # API reference constraints; client_rerank_params.py field names
    model: str = Field(default="mixedbread-ai/mxbai-rerank-large-v2", min_length=1, max_length=500)
    query: str = Field(min_length=1, max_length=32000)
    input: list[str | dict[str, Any]] = Field(min_length=1, max_length=1000)
    rank_fields: list[str] | None = Field(default=None, min_length=1)
    top_k: int | None = Field(default=None, ge=1)
    return_input: bool = False
    rewrite_query: bool = False


class MixedbreadFormat(ProviderFormat):
    """Bearer key; 1 to 1,000 inputs (a 422 validation error past it); FastAPI-style ``{"detail"}`` errors."""

    provider = PROVIDER
    request_model = MixedbreadRequest

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # mixedbread.com/api-reference/endpoints/reranking
        return "/v1/reranking", {
            "model": "mixedbread-ai/mxbai-rerank-large-v2",
            "query": query,
            "input": documents,
            "return_input": False,
        }

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        texts = [item if isinstance(item, str) else str(item.get("text", "")) for item in parsed.input]
        return Call(parsed.query, texts, parsed.top_k, parsed.return_input, parsed.model, parsed)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        results = self.results(call, scores, fault, document=lambda t: t)
        for result in results:
            result["object"] = "rank_result"
        tokens = self.tokens(call)
        return {  # rerank_response.py RerankResponse
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
            "model": call.model,
            "data": results,
            "object": "list",
            "top_k": call.top_n or len(call.texts),
            "return_input": call.return_documents,
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        return {"detail": rejected.detail if rejected.detail is not None else rejected.message}


__all__ = ["MixedbreadFormat", "MixedbreadRequest"]
