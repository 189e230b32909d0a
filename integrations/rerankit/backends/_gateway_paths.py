"""The gateway's second path: ``/v1/rerank`` first, ``/rerank`` once where the first is not served.

OpenAI-style gateways and the LiteLLM proxy serve ``/v1/rerank``; vLLM and Infinity also serve
``/rerank`` without the prefix, and some servers only that. :class:`PathFallback` is the hook the
transport (:mod:`rerankit.backends._http`) calls for each attempt of a gateway request: it chooses
the path, sends the same body once more to the second path when the first answers "not here"
(404, 405, 501), and remembers per endpoint the path that worked, for the backend's lifetime.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from rerankit.backends._answers import AttemptFailed
from rerankit.backends._endpoints import Endpoint
from rerankit.backends._responses import ProviderReply

#: Sends one request to a path within the attempt: a flow the hook delegates to (``yield from``).
SendTo = Callable[[str], Generator[Any, Any, ProviderReply]]


@dataclass(frozen=True, eq=False)
class PathFallback:
    """A second ``path`` to try once per endpoint when the first answers one of ``statuses``; the
    path that works there is kept (per endpoint, as long as the endpoint lives)."""

    path: str
    statuses: frozenset[int]
    _worked: weakref.WeakKeyDictionary[Endpoint, str] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def worked(self, endpoint: Endpoint) -> str | None:
        """The path that worked on ``endpoint``, if one has."""
        with self._lock:
            return self._worked.get(endpoint)

    def attempt(self, endpoint: Endpoint, path: str, send: SendTo) -> Generator[Any, Any, ProviderReply]:
        """One attempt on ``endpoint``: ``path`` (or the path that worked there), then this one
        once if the endpoint does not serve ``path``; the reply, or the failure to raise."""
        known = self.worked(endpoint)
        if known is not None:
            return (yield from send(known))
        try:
            reply = yield from send(path)
        except AttemptFailed as failure:
            # Another call may have learned the path meanwhile: then this failure is the answer.
            if self.worked(endpoint) is not None or failure.error.status_code not in self.statuses:
                raise
            first = failure
        else:
            self._remember(endpoint, path)
            return reply
        try:
            reply = yield from send(self.path)
        except AttemptFailed as second:
            if self.worked(endpoint) is not None:
                raise
            raise self._both_failed(endpoint, path, first, second) from None
        self._remember(endpoint, self.path)
        return reply

    def _remember(self, endpoint: Endpoint, path: str) -> None:
        with self._lock:
            self._worked[endpoint] = path

    def _both_failed(
        self, endpoint: Endpoint, path: str, first: AttemptFailed, second: AttemptFailed
    ) -> AttemptFailed:
        if second.error.status_code not in self.statuses:
            return second
        error = second.error
        message = (
            f"{endpoint.url} serves neither {path} (HTTP {first.error.status_code}) nor {self.path} "
            f"(HTTP {error.status_code}); check base_url: {error.message}"
        )
        return AttemptFailed(
            type(error)(
                message, provider=error.provider, status_code=error.status_code, request_id=error.request_id
            ),
            second.rule,
        )


__all__ = ["PathFallback", "SendTo"]
