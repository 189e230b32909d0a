"""The provider formats a :class:`RerankServer` can speak, found through the backends' registry.

Every rerank API registered in :data:`rerankit.backends.RERANK_APIS` names its loopback format in
its :class:`~rerankit.backends.ProviderSpec` (``loopback = "module:Class"``), so a new provider is
listed nowhere here. Formats without a backend of their own (vLLM's, reached through ``gateway``)
are :data:`EXTRA_FORMATS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from rerankit.backends._registry import RERANK_APIS, backend_class
from rerankit.testing.servers._format import ProviderFormat
from rerankit.testing.servers._vllm import VLLMFormat

#: Formats that are no registered backend's: vLLM's, reached through ``gateway``.
EXTRA_FORMATS: dict[str, type[ProviderFormat]] = {"vllm": VLLMFormat}


def loopback_format(name: str) -> type[ProviderFormat]:
    """The format of provider ``name``: its spec's ``loopback`` class, imported on first use.

    Raises:
        KeyError: ``name`` is neither a registered rerank API nor an extra format.
        LookupError: The registered backend declares no spec, or the spec's loopback is not a format.
    """
    if name in EXTRA_FORMATS:
        return EXTRA_FORMATS[name]
    if name not in RERANK_APIS:
        raise KeyError(name)
    spec = getattr(backend_class(name), "provider", None)
    if spec is None:
        raise LookupError(
            f"backend {name!r} declares no ProviderSpec (provider = ...), so no loopback format"
        )
    module_name, _, class_name = spec.loopback.partition(":")
    format_class = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(format_class, type) and issubclass(format_class, ProviderFormat)):
        raise LookupError(f"{spec.loopback!r}, the loopback of {name!r}, is not a ProviderFormat class")
    return format_class


class _Formats(Mapping[str, type[ProviderFormat]]):
    """Provider name -> its format, read from the registry each time (a provider registered later
    is served too)."""

    def __getitem__(self, name: str) -> type[ProviderFormat]:
        return loopback_format(name)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*RERANK_APIS, *EXTRA_FORMATS]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*RERANK_APIS, *EXTRA_FORMATS]))

    def __contains__(self, name: object) -> bool:
        return name in RERANK_APIS or name in EXTRA_FORMATS

    def __repr__(self) -> str:
        return f"FORMATS({', '.join(self)})"


#: provider name -> its format, the registry's rerank APIs first.
FORMATS: Mapping[str, type[ProviderFormat]] = _Formats()

#: The providers with a backend of their own (formats such as vLLM's are reached through ``gateway``).
PROVIDERS: tuple[str, ...] = tuple(name for name, format in FORMATS.items() if not format.behind_gateway)

#: The paths each provider serves when ``paths`` is not given (starlette path syntax).
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {name: format.paths for name, format in FORMATS.items()}

#: The documents one request may carry when ``max_documents_per_request`` is not given.
DEFAULT_MAX_DOCUMENTS_PER_REQUEST: dict[str, int] = {
    name: format.max_documents_per_request for name, format in FORMATS.items()
}

__all__ = [
    "DEFAULT_MAX_DOCUMENTS_PER_REQUEST",
    "DEFAULT_PATHS",
    "EXTRA_FORMATS",
    "FORMATS",
    "PROVIDERS",
    "loopback_format",
]
