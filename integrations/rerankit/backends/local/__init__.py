"""In-process models: the cross-encoder backend and the parts every local backend shares.

The modules each hold one concern: where a model runs (``_devices``), the bounded model cache
(``_cache``), how pairs go into forward passes (``_batching``), option checks (``_options``), the
sentence-transformers cross-encoder backend (``_cross_encoder``), the LLM reranker formats as data
(``_formats``), the causal-LM scorer that follows them (``_llm``) and which of the two a model
gets (``_routing``).
"""

from rerankit.backends.local._batching import (
    CPU_MAX_BATCH_TOKENS,
    ConcurrentBatcher,
    LoopBatchers,
    Request,
    resolve_max_batch_tokens,
    token_budget_batches,
)
from rerankit.backends.local._cache import MODEL_CACHE, ModelCache
from rerankit.backends.local._cross_encoder import MIN_VERSION_FOR_LLM_RERANKERS, LocalCrossEncoder
from rerankit.backends.local._devices import DTYPES, RUNTIMES, device_lock, resolve_device, resolve_dtype
from rerankit.backends.local._formats import FORMATS, LLMFormat
from rerankit.backends.local._llm import LLMReranker
from rerankit.backends.local._options import check_integer

__all__ = [
    "CPU_MAX_BATCH_TOKENS",
    "DTYPES",
    "FORMATS",
    "MIN_VERSION_FOR_LLM_RERANKERS",
    "MODEL_CACHE",
    "RUNTIMES",
    "ConcurrentBatcher",
    "LLMFormat",
    "LLMReranker",
    "LocalCrossEncoder",
    "LoopBatchers",
    "ModelCache",
    "Request",
    "check_integer",
    "device_lock",
    "resolve_device",
    "resolve_dtype",
    "resolve_max_batch_tokens",
    "token_budget_batches",
]

# The late-interaction and seq2seq families (issue 12), kept apart so the list above merges cleanly.
from rerankit.backends.local._colbert import LocalColBERT
from rerankit.backends.local._seq2seq import SEQ2SEQ_FORMATS, LocalSeq2Seq, Seq2SeqFormat

__all__ += ["SEQ2SEQ_FORMATS", "LocalColBERT", "LocalSeq2Seq", "Seq2SeqFormat"]
