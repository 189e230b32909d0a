"""What a backend is: something that scores (query, text) pairs and declares its limits.

A backend only scores. Validation, dedupe, splitting over ``max_documents_per_request``,
concurrency, merging, sorting, cutting and usage totals all live once in
:class:`rerankit.Reranker`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

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


def has_score_requests(backend: Backend) -> bool:
    """Whether ``backend`` implements the optional :class:`RequestBatchingBackend` extension."""
    return callable(getattr(backend, "score_requests", None))
