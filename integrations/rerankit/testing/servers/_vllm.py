"""vLLM's rerank routes, reached through the ``gateway`` backend.

Sources (vllm-project/vllm): ``vllm/entrypoints/pooling/score/protocol.py`` (``RerankRequest``,
``RerankResponse``), ``vllm/entrypoints/pooling/base/protocol.py`` (``truncate_prompt_tokens``),
``vllm/entrypoints/openai/engine/protocol.py`` (``OpenAIBaseModel``: extra fields allowed and
ignored with a warning; ``ErrorResponse``/``ErrorInfo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rerankit.testing.servers._expected_scores import stand_in_text
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, decoded_image, ranked_results


class VLLMTextPart(BaseModel):
    """chat_utils ``ChatCompletionContentPartTextParam``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["text"]
    text: str


class VLLMImageURL(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str
    detail: str | None = None


class VLLMImagePart(BaseModel):
    """chat_utils ``ChatCompletionContentPartImageParam``: ``{"type": "image_url", "image_url": {"url"}}``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["image_url"]
    image_url: VLLMImageURL


class VLLMMultiModal(BaseModel):
    """score/utils.py ``ScoreMultiModalParam``: ``{"content": [parts]}``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    content: list[VLLMTextPart | VLLMImagePart]


class VLLMRequest(BaseModel):
    """protocol.py ``RerankRequest`` (OpenAIBaseModel: unknown fields are accepted and ignored)."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str | None = None
    query: str
    # score/utils.py ScoreInputs = ScoreInput | list[ScoreInput], ScoreInput = str | ScoreMultiModalParam;
    # a single ScoreMultiModalParam is one document per content part.
    documents: list[str | VLLMMultiModal] | VLLMMultiModal
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
        documents = parsed.documents
        if isinstance(documents, VLLMMultiModal):
            documents = [VLLMMultiModal(content=[part]) for part in documents.content]
        texts = [d if isinstance(d, str) else self._scored_text(d, i) for i, d in enumerate(documents)]
        return Call(parsed.query, texts, parsed.top_n or None, True, parsed.model or "", parsed)

    @staticmethod
    def _scored_text(document: VLLMMultiModal, index: int) -> str:
        """What a document of content parts is scored as (:func:`stand_in_text`), its images decoded."""
        if not document.content:
            raise Rejected(400, f"document at index {index} has no content parts")
        texts = [part.text for part in document.content if isinstance(part, VLLMTextPart)]
        images = [
            decoded_image(part.image_url.url, f"document at index {index}")
            for part in document.content
            if isinstance(part, VLLMImagePart)
        ]
        return stand_in_text(texts, images)

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        tokens = self.tokens(call)
        documents = call.request.documents
        if isinstance(documents, VLLMMultiModal):
            documents = [VLLMMultiModal(content=[part]) for part in documents.content]
        # protocol.py RerankDocument: {"text"} for a text, {"multi_modal": [parts]} for content parts
        echoes = {
            text: {"text": d}
            if isinstance(d, str)
            else {"text": None, "multi_modal": d.model_dump()["content"]}
            for text, d in zip(call.texts, documents, strict=True)
        }
        return {  # protocol.py RerankResponse
            "id": f"rerank-{request_id}",
            "model": call.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "results": ranked_results(call, scores, fault, document=echoes.__getitem__),
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        # ErrorResponse {"error": {"message", "type", "param", "code"}}
        kind = "BadRequestError" if status < 500 else "InternalServerError"
        return {"error": {"message": rejected.message, "type": kind, "param": None, "code": status}}


__all__ = ["VLLMFormat", "VLLMMultiModal", "VLLMRequest"]
