"""The spec-string registry: ``"<backend>/<model id>"`` -> a backend instance.

Each backend module is imported only when its prefix is used, so ``import rerankit`` stays light
(no torch unless ``local/`` is asked for).
"""

from __future__ import annotations

import importlib
import inspect
from collections import ChainMap
from typing import Any

from rerankit._errors import ConfigurationError
from rerankit._options_base import unknown_options_error
from rerankit.backends._base import Backend

#: The rerank APIs, hosted or self-hosted: each backend declares its provider's facts once, in
#: a ``ProviderSpec`` (its loopback format, docs page and key variables included), so one line
#: here registers a new provider everywhere (tests, loopback servers, docs checks).
RERANK_APIS: dict[str, str] = {
    "gateway": "rerankit.backends._gateway:GatewayBackend",
    "cohere": "rerankit.backends._cohere:CohereBackend",
    "jina": "rerankit.backends._jina:JinaBackend",
    "deepinfra": "rerankit.backends._deepinfra:DeepInfraBackend",
    "tei": "rerankit.backends._tei:TEIBackend",
    "voyage": "rerankit.backends._voyage:VoyageBackend",
    "zeroentropy": "rerankit.backends._zeroentropy:ZeroEntropyBackend",
    "mixedbread": "rerankit.backends._mixedbread:MixedbreadBackend",
    "pinecone": "rerankit.backends._pinecone:PineconeBackend",
}
#: The other backends: in-process models, and listwise LLMs over chat completions.
OTHER_BACKENDS: dict[str, str] = {
    "local": "rerankit.backends._local:LocalCrossEncoder",
    "onnx": "rerankit.backends._onnx:OnnxCrossEncoder",
    "embedding": "rerankit.backends._local:EmbeddingBackend",
    "colbert": "rerankit.backends._local:LocalColBERT",
    "t5": "rerankit.backends._local:LocalSeq2Seq",
    "listwise": "rerankit.backends._listwise:ListwiseBackend",
}
#: spec prefix -> "module:Class" (both tables; one added to either is seen here); the class takes
#: ``model`` plus keyword options.
BACKENDS: ChainMap[str, str] = ChainMap(RERANK_APIS, OTHER_BACKENDS)


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
        extra = {"local": "local", "embedding": "local", "onnx": "onnx"}.get(prefix, "all")
        raise ConfigurationError(
            f"backend {prefix!r} needs packages that are not installed ({exc.name or exc}); "
            f"install them with: pip install 'rerankit[{extra}]'"
        ) from exc
    return getattr(module, class_name)


def option_names(cls: type) -> list[str]:
    """The keyword options a backend class accepts: its ``__init__`` parameters but ``model``, and,
    when it passes ``**options`` on to its base class, the base's options first."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    own_names = [
        p.name for p in parameters if p.name not in ("self", "model") and p.kind is not p.VAR_KEYWORD
    ]
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        return own_names
    inherited = option_names(cls.__mro__[1])
    return inherited + [name for name in own_names if name not in inherited]


def create_backend(spec: str, options: dict[str, Any]) -> Backend:
    """Build the backend a spec names, rejecting options it does not know by name."""
    prefix, model = parse_spec(spec)
    cls = backend_class(prefix)
    valid = option_names(cls)
    unknown = set(options) - set(valid)
    if unknown:
        raise unknown_options_error(prefix, unknown, valid)
    return cls(model, **options)
