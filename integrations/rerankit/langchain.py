"""LangChain integration: :class:`RerankCompressor`, a drop-in ``BaseDocumentCompressor``.

It sits wherever ``CohereRerank`` or ``CrossEncoderReranker`` sit today: in a
``ContextualCompressionRetriever``, a ``DocumentCompressorPipeline`` or an LCEL chain.

>>> from langchain_classic.retrievers import ContextualCompressionRetriever  # doctest: +SKIP
>>> compressor = RerankCompressor(model="cohere/rerank-v3.5", top_n=3)  # doctest: +SKIP
>>> retriever = ContextualCompressionRetriever(
...     base_compressor=compressor, base_retriever=vector_store.as_retriever(search_kwargs={"k": 20})
... )  # doctest: +SKIP
>>> retriever.invoke("what is BM25?")[0].metadata["relevance_score"]  # doctest: +SKIP
0.93...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

try:
    from langchain_core.callbacks import (
        AsyncCallbackManager,
        CallbackManager,
        Callbacks,
    )
    from langchain_core.documents import BaseDocumentCompressor, Document
    from langchain_core.runnables.config import ensure_config
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("rerankit.langchain needs langchain-core: pip install 'rerankit[langchain]'") from exc
from pydantic import ConfigDict, Field, PrivateAttr

from rerankit._adapters import check_reranker_arguments
from rerankit.backends import spec_of
from rerankit.errors import ConfigurationError, InvalidInputError
from rerankit.reranker import Reranker
from rerankit.types import RerankResponse
from rerankit.validation import check_query, check_score_threshold, check_top_n

#: ``rerank(top_n=USE_CONFIGURED_TOP_N)`` uses the compressor's ``top_n``, as ``CohereRerank.rerank`` does.
USE_CONFIGURED_TOP_N = -1


class RerankCompressor(BaseDocumentCompressor):
    """Rerank retrieved LangChain documents with any rerankit backend and keep the best.

    Build it from a spec string, with the backend's options as keywords, or from a ready
    :class:`~rerankit.Reranker`:

    >>> RerankCompressor(model="cohere/rerank-v3.5", top_n=3, max_tokens_per_doc=512)  # doctest: +SKIP
    >>> RerankCompressor(model="local/BAAI/bge-reranker-base", device="cuda", batch_size=64)  # doctest: +SKIP
    >>> RerankCompressor(reranker=Reranker("gateway/cohere/rerank-v3.5", base_url=url))  # doctest: +SKIP

    :meth:`compress_documents` returns copies of the best documents, best first, with
    ``page_content``, ``id`` and every metadata key kept and ``metadata[score_key]`` set to the
    score (a Python ``float``); the documents passed in are never modified.
    ``score_threshold`` drops documents scoring below it, then ``top_n`` keeps the best.

    The text scored is ``page_content``; name ``metadata_fields`` to score chosen metadata with it
    (rendered ``"title: ...\\n<page_content>"``, a field a document lacks is left out), or
    override :meth:`document_text` for full control.

    Args:
        model: the backend spec, ``"<backend>/<model id>"``; leave it out when passing ``reranker``.
        reranker: a ready :class:`~rerankit.Reranker` to score with, instead of a spec and options.
        top_n: how many documents to keep, best first; ``None`` keeps all.
        score_threshold: drop documents scoring below it; applied before ``top_n``.
        score_key: the metadata key the score is written to.
        metadata_fields: metadata keys scored together with ``page_content``.
        **options: the backend's options (``api_key``, ``base_url``, ``timeout``, ``device``, ...).

    Each call shows up as a child run (named ``RerankCompressor``) of the callbacks passed in, with
    the query and the number of documents as inputs and the kept documents' indices and scores
    (and the model that answered) as outputs. Backend options (API keys included) are held by
    the private reranker only: they never appear in ``repr``, ``model_dump`` or LangChain
    serialization.
    """

    model: str = Field(description="The backend spec, '<backend>/<model id>', e.g. 'cohere/rerank-v3.5'.")
    top_n: int | None = Field(default=3, description="How many documents to keep; None keeps all.")
    score_threshold: float | None = Field(
        default=None, description="Drop documents scoring below this; applied before top_n."
    )
    score_key: str = Field(default="relevance_score", description="The metadata key the score is written to.")
    metadata_fields: list[str] = Field(
        default_factory=list,
        description="Metadata keys rendered as 'key: value' lines before page_content in the scored text.",
    )

    model_config = ConfigDict(extra="forbid")

    _reranker: Reranker = PrivateAttr()

    def __init__(
        self,
        model: str | None = None,
        *,
        reranker: Reranker | None = None,
        top_n: int | None = 3,
        score_threshold: float | None = None,
        score_key: str = "relevance_score",
        metadata_fields: Sequence[str] = (),
        **options: Any,
    ) -> None:
        check_top_n(top_n)
        check_score_threshold(score_threshold)
        if not isinstance(score_key, str) or not score_key:
            raise ConfigurationError(f"score_key must be a non-empty string, got {score_key!r}")
        if (
            isinstance(metadata_fields, str)
            or not isinstance(metadata_fields, Iterable)
            or not all(isinstance(field, str) for field in metadata_fields)
        ):
            raise ConfigurationError(
                f"metadata_fields must be a list of metadata keys, got {metadata_fields!r}"
            )
        check_reranker_arguments("RerankCompressor", model, reranker, options)
        if reranker is None:
            reranker = Reranker(model, **options)
        super().__init__(
            model=spec_of(reranker.backend),
            top_n=top_n,
            score_threshold=score_threshold,
            score_key=score_key,
            metadata_fields=list(metadata_fields),
        )
        self._reranker = reranker

    @property
    def reranker(self) -> Reranker:
        """The :class:`~rerankit.Reranker` that scores the documents."""
        return self._reranker

    def document_text(self, document: Document) -> str:
        """The text scored for ``document``: the chosen metadata fields, then ``page_content``.

        >>> compressor = RerankCompressor(model="cohere/rerank-v3.5", metadata_fields=["title"])  # doctest: +SKIP
        >>> compressor.document_text(  # doctest: +SKIP
        ...     Document("BM25 ranks by term frequency.", metadata={"title": "BM25"})
        ... )
        'title: BM25\\nBM25 ranks by term frequency.'
        """
        lines = [
            f"{field}: {document.metadata[field]}"
            for field in self.metadata_fields
            if document.metadata.get(field) not in (None, "")
        ]
        if document.page_content:
            lines.append(document.page_content)
        return "\n".join(lines)

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Rerank ``documents`` for ``query``; return copies of the best, best first, scores attached.

        An empty ``documents`` returns ``[]`` without calling the backend. Invalid input raises
        :class:`~rerankit.InvalidInputError` naming the bad document's index; provider failures
        raise the :class:`~rerankit.BackendError` family.
        """
        documents = _document_list(documents)
        if not documents:
            check_query(query)
            return []
        run = self._callback_manager(callbacks).on_chain_start(
            None, _run_inputs(query, documents), name=type(self).__name__
        )
        try:
            texts = self._texts(documents)
            response = self._reranker.rerank(
                query, texts, top_n=self.top_n, score_threshold=self.score_threshold
            )
            compressed = self._scored_copies(documents, response)
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end(_run_outputs(response))
        return compressed

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents`, awaiting :meth:`rerankit.Reranker.arerank` natively."""
        documents = _document_list(documents)
        if not documents:
            check_query(query)
            return []
        run = await self._async_callback_manager(callbacks).on_chain_start(
            None, _run_inputs(query, documents), name=type(self).__name__
        )
        try:
            texts = self._texts(documents)
            response = await self._reranker.arerank(
                query, texts, top_n=self.top_n, score_threshold=self.score_threshold
            )
            compressed = self._scored_copies(documents, response)
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end(_run_outputs(response))
        return compressed

    def rerank(
        self,
        documents: Sequence[str | Document],
        query: str,
        *,
        top_n: int | None = USE_CONFIGURED_TOP_N,
    ) -> list[dict[str, Any]]:
        """Score ``documents`` for ``query``: ``[{"index": i, "relevance_score": s}, ...]``, best first.

        The same shape as ``CohereRerank.rerank``, for code migrating from it. ``top_n=-1`` (the
        default) uses the compressor's ``top_n``; ``None`` returns every document. The compressor's
        ``score_threshold`` applies. Strings are scored as they are, Documents through
        :meth:`document_text`.

        >>> compressor.rerank(["a fruit", "a ranking function"], "what is BM25?", top_n=1)  # doctest: +SKIP
        [{'index': 1, 'relevance_score': 0.97...}]
        """
        documents = _document_list(documents, allow_strings=True)
        if not documents:
            check_query(query)
            return []
        response = self._reranker.rerank(
            query,
            self._texts(documents),
            top_n=self.top_n if top_n == USE_CONFIGURED_TOP_N else top_n,
            score_threshold=self.score_threshold,
        )
        return [{"index": r.index, "relevance_score": r.relevance_score} for r in response.results]

    async def arerank(
        self,
        documents: Sequence[str | Document],
        query: str,
        *,
        top_n: int | None = USE_CONFIGURED_TOP_N,
    ) -> list[dict[str, Any]]:
        """Async :meth:`rerank`."""
        documents = _document_list(documents, allow_strings=True)
        if not documents:
            check_query(query)
            return []
        response = await self._reranker.arerank(
            query,
            self._texts(documents),
            top_n=self.top_n if top_n == USE_CONFIGURED_TOP_N else top_n,
            score_threshold=self.score_threshold,
        )
        return [{"index": r.index, "relevance_score": r.relevance_score} for r in response.results]

    def close(self) -> None:
        """Close the reranker (its pooled connections); it is the one passed in, if one was."""
        self._reranker.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        await self._reranker.aclose()

    def _texts(self, documents: list[Any]) -> list[Any]:
        """The text scored for each document (strings, allowed by :meth:`rerank`, as they are)."""
        return [self.document_text(d) if isinstance(d, Document) else d for d in documents]

    def _scored_copies(self, documents: list[Document], response: RerankResponse) -> list[Document]:
        """Copies of the kept documents, in response order, each with its score under ``score_key``."""
        return [
            documents[result.index].model_copy(
                update={
                    "metadata": {**documents[result.index].metadata, self.score_key: result.relevance_score}
                }
            )
            for result in response.results
        ]

    def _run_metadata(self) -> dict[str, Any]:
        return {
            "rerankit_model": self.model,
            "top_n": self.top_n,
            "score_threshold": self.score_threshold,
        }

    def _callback_manager(self, callbacks: Callbacks | None) -> CallbackManager:
        # Called without callbacks inside a runnable, the run still nests under the runnable's run.
        return CallbackManager.configure(
            callbacks if callbacks is not None else ensure_config().get("callbacks"),
            local_metadata=self._run_metadata(),
        )

    def _async_callback_manager(self, callbacks: Callbacks | None) -> AsyncCallbackManager:
        return AsyncCallbackManager.configure(
            callbacks if callbacks is not None else ensure_config().get("callbacks"),
            local_metadata=self._run_metadata(),
        )


def _document_list(documents: Any, *, allow_strings: bool = False) -> list[Any]:
    """``documents`` as a list, checking each is a Document (or a string where allowed) by index."""
    if (
        documents is None
        or isinstance(documents, (str, bytes, Mapping))
        or not isinstance(documents, Iterable)
    ):
        raise InvalidInputError(f"documents must be a sequence of Documents, got {type(documents).__name__}")
    documents = list(documents)
    allowed = (Document, str) if allow_strings else (Document,)
    for index, document in enumerate(documents):
        if not isinstance(document, allowed):
            expected = "a Document or a string" if allow_strings else "a Document"
            raise InvalidInputError(
                f"document at index {index} must be {expected}, got {type(document).__name__}"
            )
    return documents


def _run_inputs(query: str, documents: list[Document]) -> dict[str, Any]:
    return {"query": query, "num_documents": len(documents)}


def _run_outputs(response: RerankResponse) -> dict[str, Any]:
    return {
        "indices": [result.index for result in response.results],
        "scores": [result.relevance_score for result in response.results],
        "model": f"{response.backend}/{response.model}",  # with fallbacks, the one that answered
    }


__all__ = ["RerankCompressor"]
