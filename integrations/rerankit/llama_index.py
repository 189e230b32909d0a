"""LlamaIndex adapter: :class:`RerankPostprocessor`, a drop-in ``BaseNodePostprocessor``.

It sits wherever ``CohereRerank`` or ``SentenceTransformerRerank`` sit today
(``index.as_query_engine(node_postprocessors=[...])``, chat engines, ``RetrieverQueryEngine``)
and scores through :class:`rerankit.Reranker`, so every backend, retry and limit of the core
applies. It returns new ``NodeWithScore`` objects (Python float scores, best first) and never
mutates the nodes it is given; ``apostprocess_nodes`` is natively async.

Needs ``llama-index-core`` (``pip install 'rerankit[llama-index]'``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

try:
    from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, field_validator
    from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import BaseNode, ImageNode, MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "rerankit.llama_index needs llama-index-core: pip install 'rerankit[llama-index]'"
    ) from exc

from rerankit import _tracing
from rerankit._adapters import SCORE_KIND_KEY, RerankCall, check_reranker_arguments, serializable_options
from rerankit._errors import InvalidInputError
from rerankit._flow import Flow, arun, run
from rerankit._images import Image
from rerankit._reranker import Reranker
from rerankit._tracing._frameworks import llama_index_span
from rerankit._types import RerankResponse
from rerankit._validation import check_query, check_score_threshold, check_top_n
from rerankit.backends import spec_of

dispatcher = get_dispatcher(__name__)

#: The metadata key under which ``keep_retrieval_score`` keeps the retriever's score.
RETRIEVAL_SCORE_KEY = "retrieval_score"


class RerankPostprocessor(BaseNodePostprocessor):
    """Rerank retrieved nodes with any rerankit backend, as a LlamaIndex node postprocessor.

    Build it from a spec and the backend's options, or around a ready :class:`~rerankit.Reranker`:

    >>> rerank = RerankPostprocessor(reranker=Reranker("local/BAAI/bge-reranker-base"), top_n=3)  # doctest: +SKIP
    >>> engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank])  # doctest: +SKIP

    Here a loopback server that speaks Jina's format stands in for ``api.jina.ai`` (without
    ``base_url`` and ``api_key`` the backend uses Jina's address and ``JINA_API_KEY``):

    >>> from llama_index.core.schema import NodeWithScore, TextNode
    >>> from rerankit.testing.servers import RerankServer
    >>> jina = RerankServer("jina").start()
    >>> rerank = RerankPostprocessor(
    ...     model="jina/jina-reranker-v2-base-multilingual", base_url=jina.base_url, api_key="test-key", top_n=1
    ... )
    >>> nodes = [NodeWithScore(node=TextNode(text=text), score=0.5) for text in ["a fruit", "BM25 ranks documents"]]
    >>> [scored.node.get_content() for scored in rerank.postprocess_nodes(nodes, query_str="what is BM25?")]
    ['BM25 ranks documents']
    >>> jina.stop()

    Args:
        model: The reranker spec ``"<backend>/<model id>"``; leave it out when passing
            ``reranker``. Defaults to ``None``.
        reranker: A ready :class:`~rerankit.Reranker` to score with, instead of a spec and
            options. Defaults to ``None``.
        top_n: Nodes to keep, best first; ``None`` keeps all. Defaults to 3.
        score_threshold: Drop nodes scoring below it (after ``normalize``/``calibration``),
            before ``top_n`` applies. Defaults to ``None``.
        metadata_mode: Which metadata goes into the text that is scored. Defaults to
            ``MetadataMode.EMBED``.
        keep_retrieval_score: Keep the retriever's score in ``metadata["retrieval_score"]`` of
            each returned node. Defaults to ``False``.
        backend_options: Backend options as a dict (what ``to_dict`` stores); keyword
            ``options`` override them. Defaults to none.
        callback_manager: LlamaIndex's legacy callback manager. Defaults to a new, empty one.
        **options: The reranker's options (``normalize``, ``calibration``, ``fallbacks``, ...)
            and the backend's (``api_key``, ``base_url``, ``timeout``, ``device``, ...).

    Raises:
        ConfigurationError: Neither or both of ``model`` and ``reranker`` were given, or an
            option is unknown to the backend.
        InvalidInputError: ``top_n`` or ``score_threshold`` is invalid.

    The text scored for a node is ``node.get_content(metadata_mode=metadata_mode)``. An
    ``ImageNode`` is scored as its image (``image``, base64; else ``image_path``; else
    ``image_url``, fetched only with the reranker's ``fetch_image_urls=True``) followed by that
    text when it has any, on a backend that takes images (docs/multimodal.md); mixed lists of text
    and image nodes are ranked together.
    ``score_threshold`` drops nodes scoring below it, then ``top_n`` keeps the best ``top_n``
    (``None``: all). Each returned node is a new ``NodeWithScore`` whose ``score`` is the
    reranker's (a Python float), on a copy of the node whose metadata says what the score is under
    ``"score_kind"`` (``"probability"``, ``"logit"``, ...; docs/scores.md) and, with
    ``keep_retrieval_score``, holds the retriever's score under ``"retrieval_score"``; both keys
    are excluded from the embed and LLM metadata, so they never reach a prompt or an embedding.
    ``normalize=True`` or ``calibration="calibration.json"`` (options of the
    :class:`~rerankit.Reranker`) make the score a 0-1 one the threshold means the same for on
    every model.

    ``to_dict()``/``from_dict()`` round-trip the spec and the options that carry no secret:
    ``api_key`` and other credential options are never serialized; ``from_dict`` takes them again
    as keywords (``RerankPostprocessor.from_dict(data, api_key=...)``), or the backend reads them
    from its environment variable. Backends and rerankers given as options (``fallbacks``)
    serialize as their spec strings; a postprocessor built around a ready ``Reranker`` serializes
    its spec and its fallbacks' specs, not the options its backends were built with.
    """

    model: str = Field(description="The reranker spec '<backend>/<model id>', also the traced model name.")
    top_n: int | None = Field(default=3, description="Nodes to keep, best first; None keeps all.")
    score_threshold: float | None = Field(
        default=None, description="Drop nodes scoring below this, before top_n applies."
    )
    metadata_mode: MetadataMode = Field(
        default=MetadataMode.EMBED, description="Which metadata goes into the text that is scored."
    )
    keep_retrieval_score: bool = Field(
        default=False, description="Keep the retriever's score in metadata['retrieval_score'] of a copy."
    )
    backend_options: dict[str, Any] = Field(
        default_factory=dict,
        description="The backend options without credentials, kept so from_dict can rebuild the reranker.",
    )

    _reranker: Reranker = PrivateAttr()

    def __init__(
        self,
        model: str | None = None,
        *,
        reranker: Reranker | None = None,
        top_n: int | None = 3,
        score_threshold: float | None = None,
        metadata_mode: MetadataMode = MetadataMode.EMBED,
        keep_retrieval_score: bool = False,
        backend_options: Mapping[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        **options: Any,
    ) -> None:
        options = {**(backend_options or {}), **options}
        check_reranker_arguments("RerankPostprocessor", model, reranker, options)
        if reranker is not None:
            model = spec_of(reranker.backend)
            if reranker.fallbacks:
                options = {"fallbacks": [spec_of(backend) for backend in reranker.fallbacks]}
        super().__init__(
            model=model,
            top_n=top_n,
            score_threshold=score_threshold,
            metadata_mode=metadata_mode,
            keep_retrieval_score=keep_retrieval_score,
            backend_options=serializable_options(options),
            callback_manager=callback_manager or CallbackManager(),
        )
        self._reranker = reranker if reranker is not None else Reranker(model, **options)

    @field_validator("top_n", mode="before")
    @classmethod
    def _check_top_n(cls, value: Any) -> int | None:
        return check_top_n(value)

    @field_validator("score_threshold", mode="before")
    @classmethod
    def _check_score_threshold(cls, value: Any) -> float | None:
        return check_score_threshold(value)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serializes this class under."""
        return "RerankPostprocessor"

    @property
    def reranker(self) -> Reranker:
        """The :class:`~rerankit.Reranker` that scores the nodes."""
        return self._reranker

    def close(self) -> None:
        """Release the reranker's resources (pooled connections)."""
        self._reranker.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        await self._reranker.aclose()

    def __getstate__(self) -> dict[Any, Any]:
        # The Reranker holds credentials and live connections: never pickle it. __setstate__ calls
        # __init__ with the fields, which builds a fresh Reranker (the key from the environment).
        state = BaseModel.__getstate__(self)
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k != "callback_manager"}
        state["__pydantic_private__"] = None
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        # Unlike BaseComponent's, no silent fallback: a reranker that cannot be rebuilt (a missing
        # key, say) must fail here, not leave an object without one.
        self.__init__(**state["__dict__"])  # type: ignore[misc]

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return run(self._postprocessing(nodes, query_bundle), lambda call: call.on(self._reranker))

    @dispatcher.span
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return await arun(self._postprocessing(nodes, query_bundle), lambda call: call.aon(self._reranker))

    def _postprocessing(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Flow[RerankCall, list[NodeWithScore]]:
        """One postprocessing, as a flow (:mod:`rerankit._flow`): it yields the one rerank it needs,
        inside the events and the framework's span; the sync and async methods above drive it."""
        query, texts = self._checked_call(nodes, query_bundle)
        with self._traced(nodes, query_bundle) as reranked:
            if texts:
                with _tracing.framework_parent(llama_index_span):
                    response = yield RerankCall(query, texts, self.top_n, self.score_threshold)
                reranked.extend(self._reranked_nodes(nodes, response))
        return reranked

    def _checked_call(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> tuple[str, list[Any]]:
        """The query string and the document of each node, or a ValueError naming what is wrong."""
        if query_bundle is None:
            raise ValueError("RerankPostprocessor needs a query: pass query_bundle or query_str")
        query = check_query(query_bundle.query_str)
        if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Sequence):
            raise InvalidInputError(f"nodes must be a list of NodeWithScore, got {type(nodes).__name__}")
        documents = []
        for index, scored in enumerate(nodes):
            if not isinstance(scored, NodeWithScore):
                raise InvalidInputError(
                    f"node at index {index} is a {type(scored).__name__}, not a NodeWithScore "
                    "(wrap it: NodeWithScore(node=node))"
                )
            text = scored.node.get_content(metadata_mode=self.metadata_mode)
            image = _node_image(scored.node, index)
            if image is not None:
                documents.append([image, text] if text.strip() else image)
                continue
            if not text.strip():
                raise InvalidInputError(
                    f"node at index {index} (node_id={scored.node.node_id!r}) has no text to rerank "
                    f"with metadata_mode={self.metadata_mode.value!r}"
                )
            documents.append(text)
        return query, documents

    @contextmanager
    def _traced(self, nodes: list[NodeWithScore], query_bundle: QueryBundle) -> Iterator[list[NodeWithScore]]:
        """Bracket one rerank in balanced Start/End events, the legacy callback event included.

        The body appends the reranked nodes to the yielded list. End fires whatever happens: with
        the reranked nodes, or with none when the body raised (the enclosing span is then dropped
        with the error, and the legacy event ends with an EXCEPTION payload).
        """
        top_n = self.top_n if self.top_n is not None else len(nodes)
        dispatcher.event(
            ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=top_n, model_name=self.model)
        )
        reranked: list[NodeWithScore] = []
        try:
            with self.callback_manager.event(
                CBEventType.RERANKING,
                payload={
                    EventPayload.NODES: nodes,
                    EventPayload.MODEL_NAME: self.model,
                    EventPayload.QUERY_STR: query_bundle.query_str,
                    EventPayload.TOP_K: top_n,
                },
            ) as event:
                yield reranked
                event.on_end(payload={EventPayload.NODES: reranked})
        except BaseException:
            reranked.clear()
            raise
        finally:
            dispatcher.event(ReRankEndEvent(nodes=reranked))

    def _reranked_nodes(self, nodes: list[NodeWithScore], response: RerankResponse) -> list[NodeWithScore]:
        """New NodeWithScore objects in the response's order, each on the node its index names."""
        return [
            NodeWithScore(
                node=self._result_node(nodes[result.index], response.score_kind),
                score=float(result.relevance_score),
            )
            for result in response.results
        ]

    def _result_node(self, scored: NodeWithScore, score_kind: str | None) -> BaseNode:
        """A copy of the input's node whose metadata carries the score's kind (and the retrieval
        score with keep_retrieval_score), both kept out of the embed and LLM metadata."""
        original = scored.node
        added: dict[str, Any] = {SCORE_KIND_KEY: score_kind}
        if self.keep_retrieval_score:
            added[RETRIEVAL_SCORE_KEY] = None if scored.score is None else float(scored.score)
        node = original.model_copy()
        node.metadata = {**original.metadata, **added}
        node.excluded_embed_metadata_keys = _with_keys(original.excluded_embed_metadata_keys, added)
        node.excluded_llm_metadata_keys = _with_keys(original.excluded_llm_metadata_keys, added)
        return node


def _node_image(node: BaseNode, index: int) -> Image | None:
    """The image of an ``ImageNode`` (its base64 ``image``, else ``image_path``, else ``image_url``,
    in the order ``ImageNode.resolve_image`` reads them); ``None`` for a node without one.

    An ``image_url`` is fetched only if the reranker allows it (``fetch_image_urls=True``).
    """
    if not isinstance(node, ImageNode):
        return None
    if node.image:
        try:
            return Image.from_bytes(base64.b64decode(node.image, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidInputError(
                f"node at index {index} (node_id={node.node_id!r}): its image is not valid base64"
            ) from None
    if node.image_path:
        return Image.from_path(node.image_path)
    if node.image_url:
        return Image.from_url(node.image_url)
    return None


def _with_keys(keys: list[str], added: Mapping[str, Any]) -> list[str]:
    """A new list of ``keys`` that includes every key of ``added``."""
    return [*keys, *(key for key in added if key not in keys)]


__all__ = ["RETRIEVAL_SCORE_KEY", "SCORE_KIND_KEY", "RerankPostprocessor"]
