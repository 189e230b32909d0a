"""Jina's ``POST /v1/rerank`` (see the wire-format reference, docs/backends/jina.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rerankit.testing.servers._format import (
    Call,
    ProviderFormat,
    Rejected,
    Strict,
    TextDocument,
    ranked_results,
)


class JinaRequest(Strict):
    model: str
    query: str
    documents: list[str | TextDocument]
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool = True


class JinaFormat(ProviderFormat):
    """Bearer key; FastAPI ``{"detail"}`` errors (422 on a bad body); ``usage.total_tokens``."""

    name = "jina"
    paths = ("/v1/rerank",)
    max_documents_per_request = 1000
    request_model = JinaRequest

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        texts = [doc if isinstance(doc, str) else doc.text for doc in parsed.documents]
        return Call(parsed.query, texts, parsed.top_n or None, parsed.return_documents, parsed.model, parsed)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        results = ranked_results(call, scores, fault, document=lambda text: {"text": text})
        return {"model": call.model, "usage": {"total_tokens": self.tokens(call)}, "results": results}

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        return {"detail": rejected.detail if rejected.detail is not None else rejected.message}


__all__ = ["JinaFormat", "JinaRequest"]
