"""Voyage AI's ``POST /v1/rerank`` (docs.voyageai.com/reference/reranker-api; voyage-ai/voyageai-python)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rerankit.backends._voyage import MODEL_TOTAL_TOKENS, PROVIDER
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, Strict

#: The reference's total-token limits (query tokens x documents + document tokens, per model), as
#: the backend module declares them.
TOTAL_TOKENS = MODEL_TOTAL_TOKENS


class VoyageRequest(Strict):
    # reference body params; the client (client.py rerank) sends query, documents, model, top_k, truncation
    query: str
    documents: list[str]
    model: str
    top_k: int | None = Field(default=None, ge=1)
    return_documents: bool = False
    truncation: bool = True


class VoyageFormat(ProviderFormat):
    """Bearer key; ``{"detail": str}`` errors (api_requestor.py reads ``resp["detail"]``); 1,000 documents
    and the model's total tokens per request (tokens counted as :func:`expected_tokens` words)."""

    provider = PROVIDER
    request_model = VoyageRequest

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # docs.voyageai.com/reference/reranker-api
        return "/v1/rerank", {"query": query, "documents": documents, "model": "rerank-2.5"}

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        return Call(
            parsed.query, list(parsed.documents), parsed.top_k, parsed.return_documents, parsed.model, parsed
        )

    def check_call(self, call: Call) -> None:
        super().check_call(call)
        limit = TOTAL_TOKENS.get(call.model)
        if limit is None:
            raise Rejected(400, f"Model {call.model} is not supported.")
        tokens = self.tokens(call)  # = query tokens x documents + the documents' tokens
        if tokens > limit:
            raise Rejected(
                400,
                f"Request to model '{call.model}' failed. The max allowed tokens per submitted batch is "
                f"{limit}. Your batch has {tokens} tokens. Please lower the number of tokens in the batch.",
            )

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        return {
            "object": "list",
            PROVIDER.answer.results: self.results(call, scores, fault, document=lambda text: text),
            "model": call.model,
            **self.usage(tokens=self.tokens(call)),
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        return {"detail": rejected.message}


__all__ = ["VoyageFormat", "VoyageRequest"]
