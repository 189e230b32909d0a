"""Backends: the spec-string registry, every backend class, and the kit for writing one.

``Reranker("cohere/rerank-v3.5")`` builds its backend through :func:`create_backend`; the classes
are exported here too, for type hints and for building a backend directly. Each is imported on
first use, so ``import rerankit`` loads neither httpx nor torch.

The kit for writing a backend: the :class:`Backend` protocol and, for a remote API,
:class:`ProviderSpec` (a provider's facts, declared once, with its :class:`AnswerFields`),
:class:`RemoteBackend`, :class:`Reply` and the readers :func:`parse_scores`,
:func:`scores_in_input_order`, :func:`number_at` and :func:`whole_number_at`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rerankit._lazy import lazy_exports as _lazy_exports  # private: not part of the surface
from rerankit.backends._base import Backend
from rerankit.backends._registry import BACKENDS, RERANK_APIS, create_backend, parse_spec, spec_of

#: What this package exports besides the registry, each imported on first use (so ``import
#: rerankit`` loads neither httpx nor torch): name -> "module:attribute".
#:
#: - The kit for writing a remote backend (``rerankit/backends/_cohere.py`` is a whole one, most of
#:   it docs): the base class, the 2xx reply it reads, and the defensive readers of scores and usage.
#: - Every backend class, for type hints and for building one directly instead of by spec string.
#: - The LLM and seq2seq reranker formats (``llm_format=`` takes a custom :class:`LLMFormat`).
_LAZY_EXPORTS: dict[str, str] = {
    "RemoteBackend": "rerankit.backends._remote:RemoteBackend",
    "ProviderSpec": "rerankit.backends._provider:ProviderSpec",
    "AnswerFields": "rerankit.backends._provider:AnswerFields",
    "Reply": "rerankit.backends._responses:Reply",
    "parse_scores": "rerankit.backends._responses:parse_scores",
    "scores_in_input_order": "rerankit.backends._responses:scores_in_input_order",
    "number_at": "rerankit.backends._responses:number_at",
    "whole_number_at": "rerankit.backends._responses:whole_number_at",
    **{BACKENDS[prefix].rpartition(":")[2]: BACKENDS[prefix] for prefix in BACKENDS},
    "LLMFormat": "rerankit.backends._local._formats:LLMFormat",
    "LLM_FORMATS": "rerankit.backends._local._formats:FORMATS",
    "Seq2SeqFormat": "rerankit.backends._local._seq2seq_formats:Seq2SeqFormat",
    "SEQ2SEQ_FORMATS": "rerankit.backends._local._seq2seq_formats:SEQ2SEQ_FORMATS",
}

if TYPE_CHECKING:
    from rerankit.backends._cohere import CohereBackend
    from rerankit.backends._deepinfra import DeepInfraBackend
    from rerankit.backends._gateway import GatewayBackend
    from rerankit.backends._jina import JinaBackend
    from rerankit.backends._listwise import ListwiseBackend
    from rerankit.backends._local import (
        EmbeddingBackend,
        LLMFormat,
        LocalColBERT,
        LocalCrossEncoder,
        LocalSeq2Seq,
        Seq2SeqFormat,
    )
    from rerankit.backends._local._formats import FORMATS as LLM_FORMATS
    from rerankit.backends._local._seq2seq_formats import SEQ2SEQ_FORMATS
    from rerankit.backends._mixedbread import MixedbreadBackend
    from rerankit.backends._onnx import OnnxCrossEncoder
    from rerankit.backends._pinecone import PineconeBackend
    from rerankit.backends._provider import AnswerFields, ProviderSpec
    from rerankit.backends._remote import RemoteBackend
    from rerankit.backends._responses import (
        Reply,
        number_at,
        parse_scores,
        scores_in_input_order,
        whole_number_at,
    )
    from rerankit.backends._tei import TEIBackend
    from rerankit.backends._voyage import VoyageBackend
    from rerankit.backends._zeroentropy import ZeroEntropyBackend


__getattr__, __dir__ = _lazy_exports(globals(), _LAZY_EXPORTS)

__all__ = [
    "BACKENDS",
    "LLM_FORMATS",
    "RERANK_APIS",
    "SEQ2SEQ_FORMATS",
    "AnswerFields",
    "Backend",
    "CohereBackend",
    "DeepInfraBackend",
    "EmbeddingBackend",
    "GatewayBackend",
    "JinaBackend",
    "LLMFormat",
    "ListwiseBackend",
    "LocalColBERT",
    "LocalCrossEncoder",
    "LocalSeq2Seq",
    "MixedbreadBackend",
    "OnnxCrossEncoder",
    "PineconeBackend",
    "ProviderSpec",
    "RemoteBackend",
    "Reply",
    "Seq2SeqFormat",
    "TEIBackend",
    "VoyageBackend",
    "ZeroEntropyBackend",
    "create_backend",
    "number_at",
    "parse_scores",
    "parse_spec",
    "scores_in_input_order",
    "spec_of",
    "whole_number_at",
]
