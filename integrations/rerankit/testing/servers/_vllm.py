"""vLLM's rerank routes, reached through the ``gateway`` backend.

Sources (vllm-project/vllm): ``vllm/entrypoints/pooling/score/protocol.py`` (``RerankRequest``,
``RerankResponse``), ``vllm/entrypoints/pooling/base/protocol.py`` (``truncate_prompt_tokens``),
``vllm/entrypoints/openai/engine/protocol.py`` (``OpenAIBaseModel``: extra fields allowed and
ignored with a warning; ``ErrorResponse``/``ErrorInfo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, ranked_results


class VLLMRequest(BaseModel):
    """protocol.py ``RerankRequest`` (OpenAIBaseModel: unknown fields are accepted and ignored)."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str | None = None
    query: str
    documents: list[str]
    top_n: int = 0  # 0: all
    truncate_prompt_tokens: int | None = Field(default=None, ge=-1)
    priority: int = 0


class VLLMFormat(ProviderFormat):
    """``/rerank``, ``/v1/rerank`` and ``/v2/rerank``; documents always echoed; ``{"error": {...}}`` errors."""

    name = "vllm"
    paths = ("/v1/rerank", "/rerank", "/v2/rerank")
    max_documents_per_request = 1_000_000  # vLLM sets no document count
    request_model = VLLMRequest
    validation_status = 400
    behind_gateway = True

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        return Call(
            parsed.query, list(parsed.documents), parsed.top_n or None, True, parsed.model or "", parsed
        )

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        tokens = self.tokens(call)
        return {  # protocol.py RerankResponse
            "id": f"rerank-{request_id}",
            "model": call.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "results": ranked_results(call, scores, fault, document=lambda text: {"text": text}),
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        # ErrorResponse {"error": {"message", "type", "param", "code"}}
        kind = "BadRequestError" if status < 500 else "InternalServerError"
        return {"error": {"message": rejected.message, "type": kind, "param": None, "code": status}}


__all__ = ["VLLMFormat", "VLLMRequest"]
