"""The provider formats a :class:`RerankServer` can speak: one line per provider module."""

from __future__ import annotations

from rerankit.testing.servers._cohere import CohereFormat
from rerankit.testing.servers._deepinfra import DeepInfraFormat
from rerankit.testing.servers._format import ProviderFormat
from rerankit.testing.servers._gateway import GatewayFormat
from rerankit.testing.servers._jina import JinaFormat
from rerankit.testing.servers._mixedbread import MixedbreadFormat
from rerankit.testing.servers._pinecone import PineconeFormat
from rerankit.testing.servers._tei import TEIFormat
from rerankit.testing.servers._vllm import VLLMFormat
from rerankit.testing.servers._voyage import VoyageFormat
from rerankit.testing.servers._zeroentropy import ZeroEntropyFormat

#: provider name -> its format, in the order PROVIDERS lists them.
FORMATS: dict[str, type[ProviderFormat]] = {
    format.name: format
    for format in (
        GatewayFormat,
        CohereFormat,
        JinaFormat,
        DeepInfraFormat,
        TEIFormat,
        VoyageFormat,
        ZeroEntropyFormat,
        MixedbreadFormat,
        PineconeFormat,
        VLLMFormat,
    )
}

#: The providers with a backend of their own (formats such as vLLM's are reached through ``gateway``).
PROVIDERS: tuple[str, ...] = tuple(name for name, format in FORMATS.items() if not format.behind_gateway)

#: The paths each provider serves when ``paths`` is not given (starlette path syntax).
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {name: format.paths for name, format in FORMATS.items()}

#: The documents one request may carry when ``max_documents_per_request`` is not given.
DEFAULT_MAX_DOCUMENTS_PER_REQUEST: dict[str, int] = {
    name: format.max_documents_per_request for name, format in FORMATS.items()
}

__all__ = ["DEFAULT_MAX_DOCUMENTS_PER_REQUEST", "DEFAULT_PATHS", "FORMATS", "PROVIDERS"]
