"""DeepInfra's ``POST /v1/inference/{model}`` (see the wire-format reference, docs/backends/deepinfra.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rerankit.backends._deepinfra import PROVIDER
from rerankit.testing.servers._faults import shape_scores
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, Strict


class DeepInfraRequest(Strict):
    queries: list[str]
    documents: list[str]
    instruction: str | None = None
    top_n: int | None = None


class DeepInfraFormat(ProviderFormat):
    """Any case of ``bearer``; one query broadcast; scores in input order; ``{"detail"}`` errors."""

    provider = PROVIDER
    request_model = DeepInfraRequest

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # deepinfra.com/Qwen/Qwen3-Reranker-4B/api (inference endpoint)
        return "/v1/inference/Qwen/Qwen3-Reranker-4B", {"queries": [query], "documents": documents}

    def scheme_ok(self, scheme: str) -> bool:
        return scheme.lower() == "bearer"

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        texts = list(parsed.documents)
        if len(parsed.queries) not in (1, len(texts)):
            raise Rejected(422, "queries and documents must have the same length")
        query = parsed.queries[0] if parsed.queries else ""
        return Call(query, texts, None, False, path_params.get("model", ""), parsed)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        values: list[Any] = list(scores)
        shape_scores(values, fault)
        tokens = self.tokens(call)
        return {
            "request_id": request_id,
            PROVIDER.answer.scores: values,
            "input_tokens": tokens,
            "inference_status": {"status": "succeeded", "runtime_ms": 1, "cost": 0.0, "tokens_input": tokens},
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        if rejected.detail is not None:
            return {"detail": rejected.detail}
        if status != 401:
            return {"detail": {"error": rejected.message}}
        return {"detail": rejected.message}


__all__ = ["DeepInfraFormat", "DeepInfraRequest"]
