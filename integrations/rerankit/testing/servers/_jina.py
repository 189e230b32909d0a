"""Jina's ``POST /v1/rerank`` (see the wire-format reference, docs/backends/jina.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rerankit.backends._jina import IMAGE_MODELS, PROVIDER
from rerankit.testing.servers._expected_scores import stand_in_text
from rerankit.testing.servers._format import (
    Call,
    ProviderFormat,
    Rejected,
    Strict,
    TextDocument,
    decoded_image,
)


class JinaImageDocument(Strict):
    """A jina-reranker-m0 document: ``"image"`` (a URL or base64) and, beside it, ``"text"``."""

    image: str
    text: str | None = None


class JinaRequest(Strict):
    model: str
    query: str
    documents: list[str | TextDocument | JinaImageDocument]
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool = True


class JinaFormat(ProviderFormat):
    """Bearer key; FastAPI ``{"detail"}`` errors (422 on a bad body); ``usage.total_tokens``."""

    provider = PROVIDER
    request_model = JinaRequest

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # api.jina.ai/redoc#tag/rerank
        return "/v1/rerank", {
            "model": "jina-reranker-v2-base-multilingual",
            "query": query,
            "documents": documents,
            "return_documents": False,
        }

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        texts = []
        for index, doc in enumerate(parsed.documents):
            if isinstance(doc, JinaImageDocument):
                # docs.jina.ai, rerank "documents": "Only jina-reranker-m0 supports images."
                if parsed.model not in IMAGE_MODELS:
                    raise Rejected(422, f"document at index {index}: only jina-reranker-m0 supports images")
                image = decoded_image(doc.image, f"document at index {index}")
                texts.append(stand_in_text([doc.text] if doc.text else [], [image]))
            else:
                texts.append(doc if isinstance(doc, str) else doc.text)
        return Call(parsed.query, texts, parsed.top_n or None, parsed.return_documents, parsed.model, parsed)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        results = self.results(call, scores, fault, document=lambda text: {"text": text})
        return {"model": call.model, **self.usage(tokens=self.tokens(call)), "results": results}

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        return {"detail": rejected.detail if rejected.detail is not None else rejected.message}


__all__ = ["JinaFormat", "JinaImageDocument", "JinaRequest"]
