"""Request and response bodies of the rerank routes.

One request shape serves every route, the union of what rerank clients send (wire formats:
docs/serve.md and /work/shared/reference/wire-formats.md):

- Jina ``POST /v1/rerank`` (https://jina.ai/reranker/#apiform): ``model``, ``query``,
  ``documents`` (strings or ``{"text"}``), ``top_n``, ``return_documents`` (default true);
- vLLM / Infinity ``/rerank`` and ``/v1/rerank`` (vllm ``entrypoints/openai/protocol.py``
  ``RerankRequest``; Infinity ``infinity_emb/fastapi_schemas/pymodels.py`` ``RerankInput``), the
  same fields plus ``instruction`` for Qwen3-style rerankers;
- Cohere ``POST /v2/rerank`` (https://docs.cohere.com/reference/rerank): ``model``, ``query``,
  ``documents`` (strings), ``top_n``; no documents are echoed.

Fields these clients add that the server does not use (``max_tokens_per_doc``, ``priority``,
``raw_scores``, ...) are ignored, as vLLM and TEI ignore unknown fields; truncation is the served
model's ``max_length`` option. One field is a rerankit extension on every route:
``score_threshold`` drops results scoring below it (after the served reranker's ``normalize`` or
``calibration``), before ``top_n``, as ``Reranker.rerank`` does; ``GET /info`` says which
``score_kind`` it applies to (docs/scores.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from rerankit._errors import InvalidInputError
from rerankit._types import RerankResponse


class RerankRequest(BaseModel):
    """A rerank request body.

    ``query``, ``documents``, ``top_n`` and ``score_threshold`` are typed ``Any`` on purpose: they are checked by
    :mod:`rerankit._validation`, so a client gets the very messages the core gives
    (``query is required for rerank``, ``document text is required for rerank at index 3``, ...).
    """

    model_config = ConfigDict(extra="ignore")

    model: StrictStr | None = None
    query: Any = None
    documents: Any = None
    top_n: Any = None
    score_threshold: Any = None  # a rerankit extension, checked by the core's rule
    return_documents: StrictBool | None = None
    instruction: StrictStr | None = None


def document_texts(documents: Any) -> Any:
    """The documents of a request: strings as they are, ``{"text": ...}`` objects by their text,
    vLLM's ``{"content": [parts]}`` (``ScoreMultiModalParam``: text and ``image_url`` parts) by
    their parts; a single ``{"content": [...]}`` in place of the list is one document per part,
    as vLLM reads it (``entrypoints/pooling/score/utils.py`` ``validate_score_input``).

    Anything else that is not a list is returned unchanged for
    :func:`rerankit._validation.check_documents` to refuse with the core's message.
    """
    if isinstance(documents, dict) and isinstance(documents.get("content"), list):
        return [[part] for part in documents["content"]]
    if not isinstance(documents, list):
        return documents
    texts = []
    for index, document in enumerate(documents):
        if isinstance(document, dict) and "content" in document:
            parts = document["content"]
            if not isinstance(parts, list):
                raise InvalidInputError(
                    f"document at index {index}: 'content' must be a list of content parts"
                )
            texts.append(parts)
        elif isinstance(document, dict):
            text = document.get("text")
            if not isinstance(text, str):
                raise InvalidInputError(
                    f"document text is required for rerank at index {index}: "
                    "a document object needs a string 'text' field"
                )
            texts.append(text)
        else:
            texts.append(document)
    return texts


def echoed(document: Any) -> dict[str, Any]:
    """A document as the answer echoes it: ``{"text"}``, or vLLM's ``{"text": None, "multi_modal":
    [parts]}`` for content parts (``protocol.py`` ``RerankDocument``)."""
    if isinstance(document, str):
        return {"text": document}
    return {"text": None, "multi_modal": document}


def rerank_body(
    response: RerankResponse,
    *,
    documents: list[Any],
    request_id: str,
    model: str,
    return_documents: bool,
    tokens: int | None,
    cohere_meta: bool,
) -> dict[str, Any]:
    """The answer: ``{"id", "model", "results", "usage"}``, plus Cohere's ``meta`` on ``/v2/rerank``.

    Results are best first (ties in input order), each ``{"index", "relevance_score"}`` and, with
    ``return_documents``, ``"document": {"text"}`` (the Jina and vLLM shape; vLLM's
    ``multi_modal`` parts for a document of content parts), echoed from ``documents``, the request's. ``usage`` counts
    ``prompt_tokens`` as vLLM does (``total_tokens`` is the same: a reranker generates nothing).
    """
    results = []
    for result in response.results:
        item: dict[str, Any] = {"index": result.index, "relevance_score": result.relevance_score}
        if return_documents:
            item["document"] = echoed(documents[result.index])
        results.append(item)
    body: dict[str, Any] = {
        "id": request_id,
        "model": model,
        "results": results,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    if cohere_meta:
        # Cohere's ApiMeta (https://docs.cohere.com/reference/rerank, response "meta"): nothing is
        # billed by a self-hosted server, so search_units is 0; tokens are what the model read.
        body["meta"] = {
            "api_version": {"version": "2"},
            "billed_units": {"search_units": 0},
            "tokens": {"input_tokens": tokens, "output_tokens": 0},
        }
    return body
