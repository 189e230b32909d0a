"""LangChain integration: :class:`RerankCompressor`, a drop-in ``BaseDocumentCompressor``.

It sits wherever ``CohereRerank`` or ``CrossEncoderReranker`` sit today: in a
``ContextualCompressionRetriever``, a ``DocumentCompressorPipeline`` or an LCEL chain.

A loopback server that speaks Cohere's format stands in for ``api.cohere.com`` here (without
``base_url`` and ``api_key`` the backend uses Cohere's address and ``COHERE_API_KEY``), and an
in-memory vector store for yours:

>>> from langchain_classic.retrievers import ContextualCompressionRetriever
>>> from langchain_core.embeddings import DeterministicFakeEmbedding
>>> from langchain_core.vectorstores import InMemoryVectorStore
>>> from rerankit.testing.servers import RerankServer
>>> cohere = RerankServer("cohere").start()
>>> texts = ["BM25 is a ranking function", "a fruit", "Paris is the capital of France"]
>>> vector_store = InMemoryVectorStore.from_texts(texts, DeterministicFakeEmbedding(size=16))
>>> compressor = RerankCompressor(model="cohere/rerank-v3.5", base_url=cohere.base_url, api_key="test-key", top_n=1)
>>> retriever = ContextualCompressionRetriever(
...     base_compressor=compressor, base_retriever=vector_store.as_retriever(search_kwargs={"k": 3})
... )
>>> best = retriever.invoke("what is BM25?")[0]
>>> best.page_content, type(best.metadata["relevance_score"])
('BM25 is a ranking function', <class 'float'>)
>>> cohere.stop()
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
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("rerankit.langchain needs langchain-core: pip install 'rerankit[langchain]'") from exc
from pydantic import ConfigDict, Field, PrivateAttr

from rerankit import _tracing
from rerankit._adapters import SCORE_KIND_KEY, RerankCall, check_reranker_arguments
from rerankit._errors import ConfigurationError, InvalidInputError
from rerankit._flow import Flow, arun, run
from rerankit._images import base64_image
from rerankit._langchain_runs import RunEnd, RunStart, run_inputs, run_outputs
from rerankit._reranker import Reranker
from rerankit._tracing._frameworks import langchain_span
from rerankit._types import RerankResponse
from rerankit._validation import check_query, check_score_threshold, check_top_n
from rerankit.backends import spec_of

#: ``rerank(top_n=USE_CONFIGURED_TOP_N)`` uses the compressor's ``top_n``, as ``CohereRerank.rerank`` does.
USE_CONFIGURED_TOP_N = -1


class RerankCompressor(BaseDocumentCompressor):
    """Rerank retrieved LangChain documents with any rerankit backend and keep the best.

    Build it from a spec string, with the backend's options as keywords, or from a ready
    :class:`~rerankit.Reranker`:

    >>> RerankCompressor(model="cohere/rerank-v3.5", api_key="...", top_n=3, max_tokens_per_doc=512)
    RerankCompressor(model='cohere/rerank-v3.5', top_n=3, score_threshold=None, score_key='relevance_score', metadata_fields=[])
    >>> RerankCompressor(model="local/BAAI/bge-reranker-base", device="cuda", batch_size=64)  # doctest: +SKIP
    >>> gateway = Reranker("gateway/cohere/rerank-v3.5", base_url="http://localhost:8080")
    >>> RerankCompressor(reranker=gateway).model
    'gateway/cohere/rerank-v3.5'

    :meth:`compress_documents` returns copies of the best documents, best first, with
    ``page_content``, ``id`` and every metadata key kept, ``metadata[score_key]`` set to the
    score (a Python ``float``) and ``metadata["score_kind"]`` to what it is (``"probability"``,
    ``"logit"``, ...; docs/scores.md); the documents passed in are never modified.
    ``score_threshold`` drops documents scoring below it, then ``top_n`` keeps the best. Pass
    ``normalize=True`` or ``calibration="calibration.json"`` (options of the
    :class:`~rerankit.Reranker`) for a 0-1 score the threshold means the same for on every model.

    The text scored is ``page_content``; name ``metadata_fields`` to score chosen metadata with it
    (rendered ``"title: ...\\n<page_content>"``, a field a document lacks is left out), or
    override :meth:`document_text` for full control. A document whose ``page_content`` is a
    base64-encoded image (LangChain's convention for image documents: ``Chroma.add_images``
    stores them so) is scored as that image, with its ``metadata_fields`` text after it, on a
    backend that takes images (:meth:`document_content`, docs/multimodal.md).

    Args:
        model: The backend spec, ``"<backend>/<model id>"``; leave it out when passing ``reranker``.
            Defaults to ``None``.
        reranker: A ready :class:`~rerankit.Reranker` to score with, instead of a spec and options.
            Defaults to ``None``.
        top_n: How many documents to keep, best first; ``None`` keeps all. Defaults to 3.
        score_threshold: Drop documents scoring below it (after ``normalize``/``calibration``);
            applied before ``top_n``. Defaults to ``None``.
        score_key: The metadata key the score is written to. Defaults to ``"relevance_score"``.
        metadata_fields: Metadata keys scored together with ``page_content``. Defaults to none.
        **options: The reranker's options (``normalize``, ``calibration``, ``fallbacks``, ...)
            and the backend's (``api_key``, ``base_url``, ``timeout``, ``device``, ...).

    Raises:
        ConfigurationError: Neither or both of ``model`` and ``reranker`` were given, an option is
            unknown to the backend, or ``score_key``/``metadata_fields`` is malformed.
        InvalidInputError: ``top_n`` or ``score_threshold`` is invalid.

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

        Args:
            document: The LangChain document.

        Returns:
            ``"key: value"`` lines for the ``metadata_fields`` the document has, then its
            ``page_content``.

        >>> compressor = RerankCompressor(model="cohere/rerank-v3.5", api_key="...", metadata_fields=["title"])
        >>> compressor.document_text(
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

        An empty ``documents`` returns ``[]`` without calling the backend.

        Args:
            documents: The retrieved LangChain documents; they are never modified.
            query: The query.
            callbacks: LangChain callbacks; the rerank shows up as their child run. Defaults to
                ``None``.

        Returns:
            Copies of the kept documents, best first, with ``metadata[score_key]`` set.

        Raises:
            InvalidInputError: The query or a document is invalid (the message names its index).
            BackendError: The backend (and every fallback) failed.
        """
        return run(self._compressing(documents, query, callbacks), self._do)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents`, awaiting :meth:`rerankit.Reranker.arerank` natively."""
        return await arun(self._compressing(documents, query, callbacks), self._ado)

    def _compressing(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None
    ) -> Flow[_Action, list[Document]]:
        """One compression, as a flow (:mod:`rerankit._flow`) that yields the LangChain run's start,
        the rerank and the run's end; :meth:`compress_documents`/:meth:`acompress_documents` drive it."""
        documents = _document_list(documents)
        if not documents:
            check_query(query)
            return []
        chain_run = yield RunStart(
            callbacks, run_inputs(query, documents), self._run_metadata(), type(self).__name__
        )
        try:
            texts = self._texts(documents)
            with _tracing.framework_parent(lambda: langchain_span(chain_run)):
                response = yield RerankCall(query, texts, self.top_n, self.score_threshold)
            compressed = self._scored_copies(documents, response)
        except BaseException as exc:
            yield RunEnd(chain_run.on_chain_error, exc)
            raise
        yield RunEnd(chain_run.on_chain_end, run_outputs(response))
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

        Args:
            documents: Strings or LangChain documents.
            query: The query.
            top_n: How many results to return; ``None`` returns all. Defaults to the compressor's
                ``top_n``.

        Returns:
            ``{"index", "relevance_score"}`` dicts, best first, ``index`` pointing into
            ``documents``.

        Raises:
            InvalidInputError: The query or a document is invalid.
            BackendError: The backend (and every fallback) failed.

        >>> from rerankit.testing.servers import RerankServer
        >>> with RerankServer("cohere") as cohere:
        ...     compressor = RerankCompressor(model="cohere/rerank-v3.5", base_url=cohere.base_url, api_key="test-key")
        ...     [result["index"] for result in compressor.rerank(["a fruit", "BM25 ranks documents"], "what is BM25?")]
        [1, 0]
        """
        return run(self._ranking(documents, query, top_n), self._do)

    async def arerank(
        self,
        documents: Sequence[str | Document],
        query: str,
        *,
        top_n: int | None = USE_CONFIGURED_TOP_N,
    ) -> list[dict[str, Any]]:
        """Async :meth:`rerank`."""
        return await arun(self._ranking(documents, query, top_n), self._ado)

    def _ranking(
        self, documents: Sequence[str | Document], query: str, top_n: int | None
    ) -> Flow[_Action, list[dict[str, Any]]]:
        """One :meth:`rerank`, as a flow that yields its rerank; :meth:`rerank`/:meth:`arerank` drive it."""
        documents = _document_list(documents, allow_strings=True)
        if not documents:
            check_query(query)
            return []
        top_n = self.top_n if top_n == USE_CONFIGURED_TOP_N else top_n
        response = yield RerankCall(query, self._texts(documents), top_n, self.score_threshold)
        return [{"index": r.index, "relevance_score": r.relevance_score} for r in response.results]

    def _do(self, action: _Action) -> Any:
        """The sync side of the flows: ``Reranker.rerank``, LangChain's sync callbacks."""
        if isinstance(action, RerankCall):
            return action.on(self._reranker)
        if isinstance(action, RunStart):
            return action.start(CallbackManager)
        return action.callback(action.argument)

    async def _ado(self, action: _Action) -> Any:
        """The async side of the flows: ``Reranker.arerank``, LangChain's async callbacks."""
        if isinstance(action, RerankCall):
            return await action.aon(self._reranker)
        if isinstance(action, RunStart):
            return await action.start(AsyncCallbackManager)
        return await action.callback(action.argument)

    def close(self) -> None:
        """Close the reranker (its pooled connections); it is the one passed in, if one was."""
        self._reranker.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        await self._reranker.aclose()

    def _texts(self, documents: list[Any]) -> list[Any]:
        """What is scored for each document (strings, allowed by :meth:`rerank`, as they are)."""
        return [self.document_content(d) if isinstance(d, Document) else d for d in documents]

    def document_content(self, document: Document) -> Any:
        """What is scored for ``document``: :meth:`document_text`, or, when its ``page_content`` is a
        base64-encoded image (as ``langchain_chroma.Chroma.add_images`` stores images, and its
        multimodal retrievers return them), that image, followed by the ``metadata_fields`` text
        when there is any.

        Args:
            document: The LangChain document.

        Returns:
            A string, a :class:`~rerankit.Image`, or ``[Image, text]``.
        """
        image = base64_image(document.page_content)
        if image is None:
            return self.document_text(document)
        caption = self.document_text(document.model_copy(update={"page_content": ""}))
        return [image, caption] if caption else image

    def _run_metadata(self) -> dict[str, Any]:
        return {"rerankit_model": self.model, "top_n": self.top_n, "score_threshold": self.score_threshold}

    def _scored_copies(self, documents: list[Document], response: RerankResponse) -> list[Document]:
        """Copies of the kept documents, in response order, each with its score under ``score_key``
        and the score's kind under ``"score_kind"``."""
        return [
            documents[result.index].model_copy(
                update={
                    "metadata": {
                        **documents[result.index].metadata,
                        self.score_key: result.relevance_score,
                        SCORE_KIND_KEY: response.score_kind,
                    }
                }
            )
            for result in response.results
        ]


#: What the compressor's flows ask their driver (``_do`` or ``_ado``) to do.
_Action = RerankCall | RunStart | RunEnd


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


__all__ = ["RerankCompressor"]
