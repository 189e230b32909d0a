"""What the framework adapters (LangChain, LlamaIndex) share: how one is given its reranker, which
of its options may be serialized, and the one action their flows (:mod:`rerankit._flow`) ask for."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from rerankit._calibration import Calibration
from rerankit._errors import ConfigurationError
from rerankit._reranker import Reranker
from rerankit._types import RerankResponse
from rerankit.backends._base import Backend
from rerankit.backends._registry import spec_of

#: The metadata key both adapters put the response's ``score_kind`` under, next to the score
#: (``"probability"``, ``"logit"``, ...; docs/scores.md), so code reading a score knows its scale.
SCORE_KIND_KEY = "score_kind"


def check_reranker_arguments(owner: str, model: object, reranker: object, options: Mapping[str, Any]) -> None:
    """Check how an adapter is given its reranker: a ready ``reranker=Reranker(...)``, or a
    ``model`` spec with backend options.

    Args:
        owner: The adapter's class name, for the message.
        model: The ``model`` spec it was given, or ``None``.
        reranker: The ``reranker`` it was given, or ``None``.
        options: The backend options it was given.

    Raises:
        ConfigurationError: Neither ``model`` nor ``reranker`` was given, both were (or
            ``reranker`` with options), or ``reranker`` is not a :class:`~rerankit.Reranker`.

    >>> check_reranker_arguments("RerankCompressor", None, None, {})
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: RerankCompressor needs a model spec (model='cohere/rerank-v3.5') or reranker=Reranker(...)
    """
    if reranker is None:
        if model is None:
            raise ConfigurationError(
                f"{owner} needs a model spec (model='cohere/rerank-v3.5') or reranker=Reranker(...)"
            )
        return
    if model is not None or options:
        given = ["model"] * (model is not None) + sorted(options)
        raise ConfigurationError(
            "pass either reranker=Reranker(...) or a model spec with its options, not both "
            f"(got reranker and {', '.join(given)})"
        )
    if not isinstance(reranker, Reranker):
        raise ConfigurationError(f"reranker must be a rerankit.Reranker, got {type(reranker).__name__}")


@dataclass(frozen=True)
class RerankCall:
    """What an adapter's flow asks for: one rerank, with the adapter's cut. The adapter's sync
    method does it with :meth:`on`, its async one with :meth:`aon`; the flow is written once.

    >>> from rerankit._flow import run
    >>> from rerankit.testing import FakeBackend
    >>> def flow():
    ...     response = yield RerankCall("q", ["a", "b"], top_n=1, score_threshold=None)
    ...     return len(response.results)
    >>> run(flow(), lambda call: call.on(Reranker(FakeBackend())))
    1
    """

    query: str
    documents: list[Any]
    top_n: int | None
    score_threshold: float | None

    def on(self, reranker: Reranker) -> RerankResponse:
        """The call's response from ``reranker.rerank``."""
        return reranker.rerank(
            self.query, self.documents, top_n=self.top_n, score_threshold=self.score_threshold
        )

    def aon(self, reranker: Reranker) -> Awaitable[RerankResponse]:
        """The call's response from ``reranker.arerank`` (to await)."""
        return reranker.arerank(
            self.query, self.documents, top_n=self.top_n, score_threshold=self.score_threshold
        )


# Option names that carry credentials: never stored on the postprocessor, so never serialized.
_SECRET_OPTION = re.compile(
    r"(^|_)(api_?key|key|secret|password|token|credentials?|auth|authorization|headers)$", re.IGNORECASE
)


def serializable_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as they can be serialized: credentials dropped at any depth, backends or
    rerankers (as in ``fallbacks``) replaced by their spec strings, a calibration by its dict.

    >>> serializable_options({"api_key": "k", "timeout": 5, "headers": {"Authorization": "Bearer k"}})
    {'timeout': 5}
    """

    def scrub(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: scrub(v) for k, v in value.items() if not _SECRET_OPTION.search(str(k))}
        if isinstance(value, (list, tuple)):
            items: list[Any] = []
            for item in value:
                # A Reranker in a list (a fallback) stands for all the backends it tries.
                items.extend(map(spec_of, item.backends) if isinstance(item, Reranker) else [scrub(item)])
            return type(value)(items)
        if isinstance(value, Reranker):
            return spec_of(value.backend)
        if isinstance(value, Backend):
            return spec_of(value)
        if isinstance(value, Calibration):
            return value.model_dump(mode="json")
        return value

    return scrub(dict(options))
