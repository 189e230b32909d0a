"""What every in-process backend does the same way: score a call through ``score_requests``, merge
concurrent async calls into shared forward passes, and hold nothing to release.

The sync and async sides are one flow: :meth:`InProcessScorer.score` scores one request directly,
:meth:`InProcessScorer.ascore` hands it to the event loop's
:class:`~rerankit.backends._local._batching.ConcurrentBatcher`, which scores it (with the calls
that came while the model was busy) through the same ``score_requests`` in a worker thread. That
thread hop, and the merging, are the only differences.
"""

from __future__ import annotations

from collections.abc import Sequence

from rerankit._types import Scores
from rerankit.backends._local._batching import LoopBatchers, Request


class InProcessScorer:
    """Mixin of the local and onnx backends: :meth:`score`, :meth:`ascore`, :meth:`close` and
    :meth:`aclose` from the backend's ``score_requests``.

    A backend's ``__init__`` calls :meth:`_start_batching` once its model is loaded.
    """

    #: One model in this process: no count limit per call (the core never splits), one call at a
    #: time from the core (concurrent async calls are merged here instead), text documents only
    #: unless a backend says otherwise.
    max_documents_per_request: int | None = None
    max_concurrency = 1
    accepts_images = False
    _batchers: LoopBatchers

    def score_requests(self, requests: Sequence[Request]) -> list[list[float]]:
        """Score several ``(query, texts)`` requests in shared forward passes; one list per request."""
        raise NotImplementedError

    def _start_batching(self) -> None:
        # a lambda, so that a patched or overridden score_requests is the one used
        self._batchers = LoopBatchers(lambda requests: self.score_requests(requests))

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Score each text against ``query``; one float per text, in input order."""
        return Scores(values=self.score_requests([(query, texts)])[0])

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """:meth:`score` in a worker thread, sharing forward passes with concurrent calls.

        The event loop never blocks on a forward pass; calls made while the model is busy are
        merged into its next passes (see
        :class:`~rerankit.backends._local._batching.ConcurrentBatcher`), and each caller gets
        exactly its own scores.
        """
        return Scores(values=await self._batchers.current().submit(query, texts))

    def close(self) -> None:
        """Nothing to release: the model stays in the process-wide cache for the next caller."""

    async def aclose(self) -> None:
        """Nothing to release (see :meth:`close`)."""


__all__ = ["InProcessScorer"]
