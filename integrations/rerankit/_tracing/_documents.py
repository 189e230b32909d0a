"""OpenInference's flattened document lists (``reranker.output_documents.<i>.document.<field>``,
spec/semantic_conventions.md of Arize-ai/openinference, "Indexed Attribute Prefixes"): their keys,
made once per rank, and one document's attributes."""

from __future__ import annotations

import threading
from typing import Any

from openinference.semconv.trace import DocumentAttributes, RerankerAttributes

OUTPUT_DOCUMENTS = RerankerAttributes.RERANKER_OUTPUT_DOCUMENTS
DOCUMENT_ID = DocumentAttributes.DOCUMENT_ID
DOCUMENT_SCORE = DocumentAttributes.DOCUMENT_SCORE
DOCUMENT_CONTENT = DocumentAttributes.DOCUMENT_CONTENT
DOCUMENT_METADATA = DocumentAttributes.DOCUMENT_METADATA


def document_attributes(
    prefix: str,
    index: int,
    document_id: int,
    *,
    score: float | None = None,
    content: str | None = None,
    chunk: Any = None,
) -> dict[str, Any]:
    """One document of OpenInference's flattened list ``prefix`` (``reranker.output_documents``)."""
    key = f"{prefix}.{index}."
    attributes: dict[str, Any] = {key + DOCUMENT_ID: document_id}
    if score is not None:
        attributes[key + DOCUMENT_SCORE] = score
    if content is not None:
        attributes[key + DOCUMENT_CONTENT] = content
    if chunk is not None:
        attributes[key + DOCUMENT_METADATA] = chunk_metadata(chunk)
    return attributes


def chunk_metadata(chunk: Any) -> str:
    """A chunked document's best window as OpenInference's ``document.metadata`` (a JSON string)."""
    return f'{{"chunk": {{"index": {chunk.index}, "start": {chunk.start}, "end": {chunk.end}}}}}'


#: The keys of the output documents' id, score, content and metadata, by rank (grown on demand).
_OUTPUT_KEYS: list[tuple[str, str, str, str]] = []
_OUTPUT_KEYS_GROWING = threading.Lock()


def output_keys(count: int) -> list[tuple[str, str, str, str]]:
    """The keys of :data:`OUTPUT_DOCUMENTS` ranks ``0..count-1`` and maybe more (each made once,
    then shared: zip them with the documents)."""
    if len(_OUTPUT_KEYS) < count:
        with _OUTPUT_KEYS_GROWING:
            while len(_OUTPUT_KEYS) < count:
                key = f"{OUTPUT_DOCUMENTS}.{len(_OUTPUT_KEYS)}."
                _OUTPUT_KEYS.append(
                    (key + DOCUMENT_ID, key + DOCUMENT_SCORE, key + DOCUMENT_CONTENT, key + DOCUMENT_METADATA)
                )
    return _OUTPUT_KEYS


__all__ = ["chunk_metadata", "document_attributes", "output_keys"]
