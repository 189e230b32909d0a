"""Test kit: a fake backend, offline tiny checkpoints and loopback provider servers.

:class:`FakeBackend` tests code built on a :class:`~rerankit.Reranker` without a model or a
network. The tiny checkpoints live in :mod:`rerankit.testing.models` (they need the ``local``
extra) and the loopback servers in :mod:`rerankit.testing.servers` (they need ``uvicorn`` and
``starlette``, from the ``test`` extra); both are imported only when asked for.
"""

from rerankit.testing._fake import FakeBackend, FakeCall, hashed_score

__all__ = ["FakeBackend", "FakeCall", "hashed_score"]
