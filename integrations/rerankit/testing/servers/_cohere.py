"""Cohere's ``POST /v2/rerank`` (see the wire-format reference, docs/backends/cohere.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rerankit.backends._cohere import PROVIDER
from rerankit.testing.servers._expected_scores import expected_search_units
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, Strict


class CohereRequest(Strict):
    model: str
    query: str
    documents: list[str]
    top_n: int | None = Field(default=None, ge=1)
    max_tokens_per_doc: int | None = Field(default=None, ge=1)
    priority: int | None = Field(default=None, ge=0, le=999)


class CohereFormat(ProviderFormat):
    """Bearer key; strings only; 400 on a bad body; ``{"id", "message"}`` errors; search units."""

    provider = PROVIDER
    request_model = CohereRequest
    validation_status = 400

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # docs.cohere.com/reference/rerank (v2)
        return "/v2/rerank", {"model": "rerank-v3.5", "query": query, "documents": documents}

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        return Call(parsed.query, list(parsed.documents), parsed.top_n or None, False, parsed.model, parsed)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        answer = {"id": request_id, "results": self.results(call, scores, fault)}
        answer |= self.usage(search_units=expected_search_units(len(call.texts)))
        answer["meta"]["api_version"] = {"version": "2"}
        return answer

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        return {"id": request_id, "message": rejected.message}


__all__ = ["CohereFormat", "CohereRequest"]
