"""Pinecone's inference ``POST /rerank`` (pinecone-python-client; docs.pinecone.io rerank-results)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rerankit.backends._pinecone import MODEL_DOCUMENT_LIMITS, PROVIDER
from rerankit.testing.servers._expected_scores import expected_search_units
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, Strict

#: API versions the loopback accepts in ``X-Pinecone-Api-Version`` (the client's constants.py sends 2025-10).
API_VERSIONS = frozenset({"2024-10", "2025-01", "2025-04", "2025-10"})
#: Error ``code`` per status, gRPC-style as Pinecone's error bodies carry.
ERROR_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class PineconeRequest(Strict):
    # client/inference.py rerank body
    model: str
    query: str
    documents: list[dict[str, Any]]
    rank_fields: list[str] = Field(default_factory=lambda: ["text"])
    return_documents: bool = True
    top_n: int | None = Field(default=None, ge=1)
    parameters: dict[str, Any] | None = None


class PineconeFormat(ProviderFormat):
    """``Api-Key`` header and a known ``X-Pinecone-Api-Version``; per-model document limits;
    ``{"error": {"code", "message"}, "status"}`` errors; ``usage.rerank_units``."""

    provider = PROVIDER
    request_model = PineconeRequest
    validation_status = 400

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # pinecone-python-client client/inference.py rerank
        return "/rerank", {
            "model": "bge-reranker-v2-m3",
            "query": query,
            "documents": [{"text": text} for text in documents],
            "return_documents": False,
        }

    def check_auth(self, headers: Mapping[str, str]) -> None:
        super().check_auth(headers)  # the key in the spec's Api-Key header, bare
        version = headers.get("x-pinecone-api-version")
        if version not in API_VERSIONS:
            raise Rejected(400, f"unsupported or missing X-Pinecone-Api-Version header: {version!r}")

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        if parsed.rank_fields != ["text"]:
            raise Rejected(400, f"Model {parsed.model} supports only a single rank field")
        texts = []
        for index, document in enumerate(parsed.documents):
            if not isinstance(document.get("text"), str):
                raise Rejected(400, f"Document at index {index} is missing the rank field 'text'")
            texts.append(document["text"])
        return Call(parsed.query, texts, parsed.top_n, parsed.return_documents, parsed.model, parsed)

    def check_call(self, call: Call) -> None:
        limit = MODEL_DOCUMENT_LIMITS.get(call.model)
        if limit is None:
            raise Rejected(404, f"Model '{call.model}' not found")
        limit = min(limit, self.server.max_documents_per_request)
        if len(call.texts) > limit:
            raise Rejected(
                400,
                f"The number of documents ({len(call.texts)}) exceeds the maximum of {limit} for {call.model}",
            )
        super().check_call(call)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        # models/inference/rerank.py RerankResult: model, data[{index, score, document?}], usage.rerank_units
        return {
            "model": call.model,
            "data": self.results(call, scores, fault, document=lambda t: {"text": t}),
            **self.usage(search_units=expected_search_units(len(call.texts))),
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        code = ERROR_CODES.get(status, "UNKNOWN")
        return {"error": {"code": code, "message": rejected.message}, "status": status}


__all__ = ["PineconeFormat", "PineconeRequest"]
