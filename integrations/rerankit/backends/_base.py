"""What a backend is: something that scores (query, text) pairs and declares its limits.

A backend only scores. Validation, dedupe, splitting over ``max_documents_per_request``,
concurrency, merging, sorting, cutting and usage totals all live once in
:class:`rerankit.Reranker`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from rerankit._errors import InvalidInputError
from rerankit._types import Scores


@runtime_checkable
class Backend(Protocol):
    """The protocol every backend implements.

    Attributes:
        name: the spec prefix (``"local"``, ``"cohere"``, ...), reported in responses and errors.
        model: the model id, as the provider or loader knows it.
        max_documents_per_request: the most texts one ``score`` call may take; ``None`` for no limit.
            The core splits longer lists and merges the parts by global index.
        max_concurrency: how many ``score``/``ascore`` calls the core may run at once for one rerank.

    Optional methods the core uses when a backend has them (not part of the protocol's check):

    * ``split_request(query, texts) -> list[list[str]]``: cut one request's texts (already within
      ``max_documents_per_request``) into consecutive parts that fit a limit that is not a count
      (payload bytes, tokens); the parts concatenated must be ``texts``, in order.
    * ``load_limits()`` / ``async aload_limits()``: learn the limits from the server (TEI's
      ``GET /info``) before the first split; called before every call, so they must cache.

    Optional attribute: ``accepts_images`` (default ``False``). A backend that sets it ``True``
    gets documents holding images as :class:`~rerankit._documents.MultimodalDocument` among its
    texts; for any other backend the core refuses such a call before sending anything
    (:func:`require_image_support`). Such a backend may also have
    ``image_document_problem(document) -> str | None``: why its provider cannot carry that
    document (Jina takes one image per document), checked before sending.
    """

    name: str
    model: str
    max_documents_per_request: int | None
    max_concurrency: int

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Score every text against ``query``; one float per text, in input order."""
        ...

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """Async :meth:`score`; must not block the event loop."""
        ...

    def close(self) -> None:
        """Release pooled connections or other resources."""
        ...

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        ...


@runtime_checkable
class RequestBatchingBackend(Backend, Protocol):
    """A backend that can also score many ``(query, texts)`` requests in shared forward passes.

    Optional: :meth:`rerankit.Reranker.rerank_batch` uses it when a backend has it (the local
    cross-encoder does), so the pairs of every item of a batch share token-budget batches; other
    backends get one :meth:`Backend.score` call per item, concurrently.
    """

    def score_requests(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """Score each request's texts against its query; one score list per request, in order.

        Bare floats, no usage: this is for backends that bill nothing per call (local models).
        """
        ...


def takes_images(backend: Backend) -> bool:
    """Whether ``backend`` declares it scores documents holding images (``accepts_images``)."""
    return bool(getattr(backend, "accepts_images", False))


def require_image_support(backend: Backend, image_documents: Sequence[tuple[int, Any]]) -> None:
    """Refuse, before anything is sent, a call with an image document on a backend that takes none,
    or with one its provider cannot carry (the backend's optional ``image_document_problem``).

    Args:
        backend: The backend about to be called.
        image_documents: ``(input index, document)`` of the documents holding images, in order.

    Raises:
        InvalidInputError: naming the provider, its model and the document's index.
    """
    if not image_documents:
        return
    if takes_images(backend):
        problem_of = getattr(backend, "image_document_problem", None)
        for index, document in image_documents if callable(problem_of) else ():
            problem = problem_of(document)
            if problem:
                raise InvalidInputError(
                    f"document at index {index}: {problem}; nothing was sent", provider=backend.name
                )
        return
    image_index = image_documents[0][0]
    raise InvalidInputError(
        f"document at index {image_index} holds an image, and backend {backend.name!r} "
        f"({backend.model}) takes text documents only; nothing was sent. Image documents need a "
        "backend that takes them (docs/multimodal.md)",
        provider=backend.name,
    )


def has_score_requests(backend: Backend) -> bool:
    """Whether ``backend`` implements the optional :class:`RequestBatchingBackend` extension."""
    return callable(getattr(backend, "score_requests", None))
