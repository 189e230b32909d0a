"""What the framework adapters (LangChain, LlamaIndex) share: how one is given its reranker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rerankit.errors import ConfigurationError
from rerankit.reranker import Reranker


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
    rerankit.errors.ConfigurationError: RerankCompressor needs a model spec (model='cohere/rerank-v3.5') or reranker=Reranker(...)
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
