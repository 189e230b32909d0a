"""Backends and the spec-string registry: ``"<backend>/<model id>"`` -> a backend instance.

Each backend module is imported only when its prefix is used, so ``import rerankit`` stays light
(no torch unless ``local/`` is asked for).

The kit for writing a backend is re-exported here: the :class:`Backend` protocol and, for a remote
API, ``RemoteBackend``, ``Reply`` and the readers ``parse_scores``, ``scores_in_input_order``,
``number_at`` and ``whole_number_at``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from rerankit.backends.base import Backend
from rerankit.errors import ConfigurationError

#: spec prefix -> "module:Class"; the class takes ``model`` plus keyword options.
BACKENDS: dict[str, str] = {
    "local": "rerankit.backends.local:LocalCrossEncoder",
    "embedding": "rerankit.backends.embedding:EmbeddingBackend",
    "gateway": "rerankit.backends.gateway:GatewayBackend",
    "cohere": "rerankit.backends.cohere:CohereBackend",
    "jina": "rerankit.backends.jina:JinaBackend",
    "deepinfra": "rerankit.backends.deepinfra:DeepInfraBackend",
    "colbert": "rerankit.backends.local:LocalColBERT",
    "t5": "rerankit.backends.local:LocalSeq2Seq",
    "listwise": "rerankit.backends.listwise:ListwiseBackend",
    "tei": "rerankit.backends.tei:TEIBackend",
    "voyage": "rerankit.backends.voyage:VoyageBackend",
    "zeroentropy": "rerankit.backends.zeroentropy:ZeroEntropyBackend",
    "mixedbread": "rerankit.backends.mixedbread:MixedbreadBackend",
    "pinecone": "rerankit.backends.pinecone:PineconeBackend",
}


def spec_of(backend: Backend) -> str:
    """The spec string that names ``backend``, the inverse of :func:`parse_spec`: ``"<backend>/<model id>"``."""
    return f"{backend.name}/{backend.model}"


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``"<backend>/<model id>"``; the model id is passed on unchanged.

    >>> parse_spec("gateway/cohere/rerank-v3.5")
    ('gateway', 'cohere/rerank-v3.5')
    >>> parse_spec("local//abs/path")
    ('local', '/abs/path')
    """
    if not isinstance(spec, str):
        raise ConfigurationError(f"model must be a spec string or a Backend, got {type(spec).__name__}")
    prefix, sep, model = spec.partition("/")
    if not sep or not model:
        raise ConfigurationError(
            f"model spec {spec!r} must look like '<backend>/<model id>'; "
            f"backends: {', '.join(sorted(BACKENDS))}"
        )
    if prefix not in BACKENDS:
        raise ConfigurationError(
            f"unknown backend {prefix!r} in model spec {spec!r}; valid backends: {', '.join(sorted(BACKENDS))}"
        )
    return prefix, model


def backend_class(prefix: str) -> type:
    """The class registered for ``prefix``, imported on first use."""
    module_name, _, class_name = BACKENDS[prefix].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = "local" if prefix in ("local", "embedding") else "all"
        raise ConfigurationError(
            f"backend {prefix!r} needs packages that are not installed ({exc.name or exc}); "
            f"install them with: pip install 'rerankit[{extra}]'"
        ) from exc
    return getattr(module, class_name)


def option_names(cls: type) -> list[str]:
    """The keyword options a backend class accepts: its ``__init__`` parameters but ``model``, and,
    when it passes ``**options`` on to its base class, the base's options first."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    own = [p.name for p in parameters if p.name not in ("self", "model") and p.kind is not p.VAR_KEYWORD]
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        return own
    inherited = option_names(cls.__mro__[1])
    return inherited + [name for name in own if name not in inherited]


def create_backend(spec: str, options: dict[str, Any]) -> Backend:
    """Build the backend a spec names, rejecting options it does not know by name."""
    prefix, model = parse_spec(spec)
    cls = backend_class(prefix)
    valid = option_names(cls)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for backend {prefix!r}; "
            f"valid options: {', '.join(valid)}"
        )
    return cls(model, **options)


#: The kit for writing a remote backend (see ``rerankit.backends.cohere`` for a whole one): the base
#: class, the 2xx reply it reads, and the defensive readers of scores and usage numbers. Imported on
#: first use, so ``import rerankit`` does not load httpx and tenacity.
_BACKEND_KIT = {
    "RemoteBackend": "rerankit.backends.remote",
    "Reply": "rerankit.backends.http",
    "parse_scores": "rerankit.backends.responses",
    "scores_in_input_order": "rerankit.backends.responses",
    "number_at": "rerankit.backends.responses",
    "whole_number_at": "rerankit.backends.responses",
}

if TYPE_CHECKING:
    from rerankit.backends.http import Reply
    from rerankit.backends.remote import RemoteBackend
    from rerankit.backends.responses import number_at, parse_scores, scores_in_input_order, whole_number_at


def __getattr__(name: str) -> Any:
    if name in _BACKEND_KIT:
        return getattr(importlib.import_module(_BACKEND_KIT[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "Backend",
    "RemoteBackend",
    "Reply",
    "create_backend",
    "number_at",
    "parse_scores",
    "parse_spec",
    "scores_in_input_order",
    "spec_of",
    "whole_number_at",
]
