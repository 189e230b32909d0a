"""What a backend is: something that scores (query, text) pairs and declares its limits.

A backend only scores. Validation, dedupe, splitting over ``max_documents_per_request``,
concurrency, merging, sorting, cutting and usage totals all live once in
:class:`rerankit.Reranker`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from rerankit.types import Scores


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
