"""Jina AI's rerank API: ``POST {base_url}/v1/rerank`` (``jina/jina-reranker-v2-base-multilingual``, ...)."""

from __future__ import annotations

from typing import Any

from rerankit._documents import MultimodalDocument
from rerankit._score_kinds import ScoreScale
from rerankit.backends._provider import AnswerFields, ProviderSpec
from rerankit.backends._remote import RemoteBackend

#: Jina's documented facts (https://jina.ai/reranker/#apiform).
PROVIDER = ProviderSpec(
    name="jina",
    path="/v1/rerank",
    default_base_url="https://api.jina.ai",
    api_key_env=("JINA_API_KEY",),
    max_documents=1000,
    # The 8k-token context of jina-reranker-v2 (https://jina.ai/reranker/; the smallest of the
    # current models), shared with the query. Whether the API truncates or rejects a longer
    # pair is not documented, so rerankit cuts documents to it client-side.
    document_token_limit=8192,
    answer=AnswerFields(results="results", score="relevance_score", document="document"),
    tokens_at=(("usage", "total_tokens"),),
    loopback="rerankit.testing.servers._jina:JinaFormat",
    example_model="jina-reranker-v2-base-multilingual",
)

#: The Jina models that take image documents.
IMAGE_MODELS = frozenset({"jina-reranker-m0"})


def jina_image_document(document: MultimodalDocument) -> dict[str, str]:
    """An image document as Jina's API takes it for jina-reranker-m0: ``{"image": base64}`` and, with
    text parts, ``"text"`` (joined by newlines).

    Jina's API reference (docs.jina.ai, the rerank body's ``documents``): "If m0 reranker:
    object with keys "text" and/or "image", and values of strings ... and/or images (URLs or
    base64-encoded strings)".
    """
    body = {"image": document.images[0].base64()}
    if document.texts:
        body["text"] = "\n".join(document.texts)
    return body


class JinaBackend(RemoteBackend):
    """Scores with Jina's ``/v1/rerank``; the key comes from ``api_key`` or ``JINA_API_KEY``.

    Sends ``return_documents: false`` (Jina echoes every document by default); up to 1,000
    documents per request; with ``jina-reranker-m0``, image documents as ``{"image": base64}``
    (with ``"text"`` beside it for text and image together; one image per document); usage reports ``usage.total_tokens``. Documents longer than the 8k-token
    context (shared with the query) are cut client-side.

    Its options are those of every remote backend (``base_url``, ``timeout``, ``max_retries``, ...;
    see :class:`~rerankit.backends.RemoteBackend`); Jina has none of its own.

    Args:
        model: A Jina reranker (``jina-reranker-v2-base-multilingual``, ...).

    Raises:
        ConfigurationError: An option breaks its rule, or no key is given or set.

    Here against the loopback server that speaks Jina's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("jina") as server:
    ...     reranker = Reranker("jina/jina-reranker-v2-base-multilingual", base_url=server.base_url, api_key="test-key")
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    >>> response.results[0].index, response.usage.tokens is not None
    (1, True)
    """

    provider = PROVIDER
    #: What the scores are (docs/scores.md): the provider's relevance in 0-1; the API reference
    #: (https://jina.ai/reranker/#apiform) gives relevance_score values in 0-1 without stating a range.
    score_scale = ScoreScale(
        kind="relevance",
        range=(0.0, 1.0),
        description="Jina's relevance_score",
        normalization="identity",
        source="Jina Reranker API reference, POST /v1/rerank (relevance_score; 0-1 in its examples)",
    )

    @property
    def accepts_images(self) -> bool:  # type: ignore[override]
        """Only jina-reranker-m0 takes images (Jina's API reference, ``documents``)."""
        return self.model in IMAGE_MODELS

    def image_document_problem(self, document: MultimodalDocument) -> str | None:
        """Jina's image document is one ``{"image"}``, with at most one ``"text"`` beside it."""
        if len(document.images) > 1:
            return f"{self.model} takes one image per document, this one has {len(document.images)}"
        return None

    def request_body(self, query: str, texts: list[Any]) -> dict[str, Any]:
        documents = [text if isinstance(text, str) else jina_image_document(text) for text in texts]
        return {"model": self.model, "query": query, "documents": documents, "return_documents": False}


__all__ = ["IMAGE_MODELS", "PROVIDER", "JinaBackend", "jina_image_document"]
